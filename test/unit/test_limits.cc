// Unit tests of the per-address connection limit (core/conn/limits.cc):
// an IPv6 source counts as its first limits.ipv6_prefix bits, an IPv4
// one (also mapped into IPv6) as itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string>

#include "core/common/log.h"
#include "core/conn/limits.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

sockaddr_in6 v6(const char *text)
{
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
    return a;
}

sockaddr_in v4(const char *text)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, text, &a.sin_addr), 1);
    return a;
}

// One connection per address: whether a connection from addr is admitted.
template <typename Addr>
bool admitted(hf_limits *l, const Addr &addr)
{
    std::string key;
    return hf_limit_admit(l, 0, reinterpret_cast<const sockaddr *>(&addr), &key) == hf_limit::count;
}

struct limits_at {
    hf_config cfg;
    hf_limits limits;
    explicit limits_at(int ipv6_prefix)
    {
        cfg.max_connections = 100;
        cfg.max_connections_per_address = 1;
        cfg.ipv6_prefix = ipv6_prefix;
        cfg.limit_log_interval_ms = 3600000;
        limits.cfg = &cfg;
    }
};

void an_ipv6_64_counts_as_one_address(void **)
{
    // On 8f1a768 each of a subscriber's 2^64 addresses had its own limit.
    limits_at l(64);
    assert_true(admitted(&l.limits, v6("2001:db8:1:2::1")));
    assert_false(admitted(&l.limits, v6("2001:db8:1:2:ffff::9")));
    assert_true(admitted(&l.limits, v6("2001:db8:1:3::1"))); // the next /64
    assert_int_equal(l.limits.hits[int(hf_limit::connections_per_address)], 1);
}

void the_prefix_is_a_setting(void **)
{
    limits_at whole(128);
    assert_true(admitted(&whole.limits, v6("2001:db8:1:2::1")));
    assert_true(admitted(&whole.limits, v6("2001:db8:1:2::2")));
    assert_false(admitted(&whole.limits, v6("2001:db8:1:2::2")));
    limits_at odd(61); // not on a byte boundary
    assert_true(admitted(&odd.limits, v6("2001:db8:1:8::1")));
    assert_false(admitted(&odd.limits, v6("2001:db8:1:f::1")));
    assert_true(admitted(&odd.limits, v6("2001:db8:1:10::1")));
}

void ipv4_counts_as_itself_also_when_mapped(void **)
{
    limits_at l(64);
    assert_true(admitted(&l.limits, v4("192.0.2.1")));
    assert_true(admitted(&l.limits, v4("192.0.2.2")));
    // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: each is its
    // own address, not one /64 for all of IPv4, and the same as unmapped.
    assert_true(admitted(&l.limits, v6("::ffff:192.0.2.3")));
    assert_false(admitted(&l.limits, v6("::ffff:192.0.2.1")));
}

} // namespace

int main(void)
{
    hf_log_set_level(HF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_ipv6_64_counts_as_one_address),
        cmocka_unit_test(the_prefix_is_a_setting),
        cmocka_unit_test(ipv4_counts_as_itself_also_when_mapped),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
