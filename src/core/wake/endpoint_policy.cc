#include "core/wake/endpoint_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace
{

// An IPv4 address (host order) against a.b.c.d/bits.
bool in_v4(uint32_t ip, uint32_t a, uint32_t b, uint32_t c, uint32_t d, int bits)
{
    uint32_t net = (a << 24) | (b << 16) | (c << 8) | d;
    uint32_t mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
    return (ip & mask) == (net & mask);
}

bool v4_public(uint32_t ip)
{
    static const struct {
        uint32_t a, b, c, d;
        int bits;
    } not_public[] = {
        {0, 0, 0, 0, 8},       {10, 0, 0, 0, 8},     {100, 64, 0, 0, 10}, {127, 0, 0, 0, 8},    {169, 254, 0, 0, 16},
        {172, 16, 0, 0, 12},   {192, 0, 0, 0, 24},   {192, 0, 2, 0, 24},  {192, 168, 0, 0, 16}, {198, 18, 0, 0, 15},
        {198, 51, 100, 0, 24}, {203, 0, 113, 0, 24}, {224, 0, 0, 0, 4},   {240, 0, 0, 0, 4},
    };
    for (const auto &n : not_public)
        if (in_v4(ip, n.a, n.b, n.c, n.d, n.bits))
            return false;
    return true;
}

} // namespace

bool hf_endpoint_allowed(std::string_view url, const std::vector<std::string> &prefixes)
{
    for (const std::string &prefix : prefixes) {
        if (prefix.empty() || url.substr(0, prefix.size()) != prefix)
            continue;
        if (prefix.back() == '/' || url.size() == prefix.size())
            return true;
        char next = url[prefix.size()];
        if (next == '/' || next == ':' || next == '?')
            return true;
    }
    return false;
}

bool hf_address_public(const sockaddr *address)
{
    if (address->sa_family == AF_INET)
        return v4_public(ntohl(reinterpret_cast<const sockaddr_in *>(address)->sin_addr.s_addr));
    if (address->sa_family != AF_INET6)
        return false;
    const uint8_t *a = reinterpret_cast<const sockaddr_in6 *>(address)->sin6_addr.s6_addr;
    static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped_prefix, 12) == 0)
        return v4_public(uint32_t(a[12]) << 24 | uint32_t(a[13]) << 16 | uint32_t(a[14]) << 8 | a[15]);
    static const uint8_t zero[16] = {};
    if (memcmp(a, zero, 15) == 0) // :: and ::1
        return false;
    if ((a[0] & 0xfe) == 0xfc) // fc00::/7, unique local
        return false;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) // fe80::/10, link-local
        return false;
    if (a[0] == 0xff) // multicast
        return false;
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) // 2001:db8::/32, documentation
        return false;
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(a, nat64, 12) == 0) // 64:ff9b::/96 reaches the IPv4 address inside
        return v4_public(uint32_t(a[12]) << 24 | uint32_t(a[13]) << 16 | uint32_t(a[14]) << 8 | a[15]);
    return (a[0] & 0xe0) == 0x20; // global unicast is 2000::/3
}

std::string hf_endpoint_problem(std::string_view url, const std::vector<std::string> &prefixes, bool *listed)
{
    size_t scheme_end = url.find("://");
    *listed = false;
    if (scheme_end == std::string_view::npos)
        return "not a URL";
    std::string_view rest = url.substr(scheme_end + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos)
        return "a user name in the URL";
    if (authority.empty() || authority.front() == ':')
        return "no host";
    *listed = hf_endpoint_allowed(url, prefixes);
    if (!*listed && url.substr(0, scheme_end) != "https")
        return "not an https:// URL (wake.allow_endpoints does not list it)";
    return "";
}
