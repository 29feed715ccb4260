#include "core/conn/limits.h"

#include <netinet/in.h>

#include "core/common/log.h"
#include "proto/clock.h"

namespace
{

const char *limit_keys[] = {
    "limits.max_connections", "limits.max_connections_per_address", "limits.frame_rate",
    "limits.send_rate",       "limits.max_devices_per_account",
};

// The source address without the port: 4 or 16 raw bytes.
std::string address_of(const sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        auto *in = reinterpret_cast<const sockaddr_in *>(addr);
        return std::string(reinterpret_cast<const char *>(&in->sin_addr), sizeof in->sin_addr);
    }
    if (addr->sa_family == AF_INET6) {
        auto *in6 = reinterpret_cast<const sockaddr_in6 *>(addr);
        return std::string(reinterpret_cast<const char *>(&in6->sin6_addr), sizeof in6->sin6_addr);
    }
    return std::string();
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
    *address_key = address_of(addr);
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
