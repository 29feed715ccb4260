#include "core/conn/limits.h"

#include <netinet/in.h>

#include <algorithm>

#include "core/common/log.h"
#include "proto/clock.h"

namespace
{

const char *limit_keys[] = {
    "limits.max_connections",
    "limits.max_connections_per_address",
    "limits.frame_rate",
    "limits.send_rate",
    "limits.max_devices_per_account",
    "limits.max_unanswered_sends",
    "api.max_connections",
    "metrics.max_connections",
};
static_assert(sizeof limit_keys / sizeof limit_keys[0] == size_t(hf_limit::count), "a key for every limit");

// The source as the per-address limit counts it, without the port: an
// IPv4 address (4 raw bytes, also when mapped into IPv6), or the first
// ipv6_prefix bits of an IPv6 one (17 bytes: the prefix length, then the
// address with the rest zeroed). One subscriber commonly holds a whole
// IPv6 /64, and could otherwise open connections from each address in it.
std::string address_of(const sockaddr *addr, int ipv6_prefix)
{
    if (addr->sa_family == AF_INET) {
        auto *in = reinterpret_cast<const sockaddr_in *>(addr);
        return std::string(reinterpret_cast<const char *>(&in->sin_addr), sizeof in->sin_addr);
    }
    if (addr->sa_family != AF_INET6)
        return std::string();
    const uint8_t *bytes = reinterpret_cast<const sockaddr_in6 *>(addr)->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr *>(bytes)))
        return std::string(reinterpret_cast<const char *>(bytes + 12), 4);
    std::string key(17, '\0');
    key[0] = char(ipv6_prefix);
    for (int i = 0; i < 16; i++) {
        int kept = std::clamp(ipv6_prefix - 8 * i, 0, 8); // bits of this byte inside the prefix
        key[size_t(i) + 1] = char(bytes[i] & uint8_t(0xff00 >> kept));
    }
    return key;
}

} // namespace

const char *hf_limit_key(hf_limit limit)
{
    return limit_keys[int(limit)];
}

void hf_limit_hit(hf_limits *l, hf_limit limit, const char *detail)
{
    auto &log = l->logs[int(limit)];
    l->hits[int(limit)]++;
    log.unlogged++;
    uint64_t now = hf_mono_ms();
    if (log.last_logged_ms && now - log.last_logged_ms < uint64_t(l->cfg->limit_log_interval_ms))
        return;
    hf_log(HF_LOG_WARNING,
           "limit %s reached %llu time(s) since the last report, latest: %s; raise it if this "
           "traffic is legitimate",
           hf_limit_key(limit), (unsigned long long)log.unlogged, detail);
    log.unlogged = 0;
    log.last_logged_ms = now;
}

hf_limit hf_limit_admit(hf_limits *l, size_t open, const sockaddr *addr, std::string *address_key)
{
    if (open >= uint64_t(l->cfg->max_connections)) {
        hf_limit_hit(l, hf_limit::connections, "new connection refused");
        return hf_limit::connections;
    }
    *address_key = address_of(addr, int(l->cfg->ipv6_prefix));
    uint32_t &count = l->connections_per_address[*address_key];
    if (count >= uint64_t(l->cfg->max_connections_per_address)) {
        hf_limit_hit(l, hf_limit::connections_per_address, "new connection from a busy address refused");
        address_key->clear();
        return hf_limit::connections_per_address;
    }
    count++;
    return hf_limit::count;
}

void hf_limit_release(hf_limits *l, const std::string &address_key)
{
    auto it = l->connections_per_address.find(address_key);
    if (it != l->connections_per_address.end() && --it->second == 0)
        l->connections_per_address.erase(it);
}
