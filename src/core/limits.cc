#include "core/limits.h"

#include <netinet/in.h>

#include "core/daemon.h"
#include "core/log.h"
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

void hf_limit_hit(hf_daemon *d, hf_limit limit, const char *detail)
{
    hf_limit_log &log = d->limit_logs[int(limit)];
    d->stats.limit_hits[int(limit)]++;
    log.unlogged++;
    uint64_t now = hf_mono_ms();
    if (log.last_logged_ms && now - log.last_logged_ms < uint64_t(d->cfg.limit_log_interval_ms))
        return;
    hf_log(HF_LOG_WARNING,
           "limit %s reached %llu time(s) since the last report, latest: %s; raise it if this "
           "traffic is legitimate",
           hf_limit_key(limit), (unsigned long long)log.unlogged, detail);
    log.unlogged = 0;
    log.last_logged_ms = now;
}

bool hf_limits_admit(hf_daemon *d, const sockaddr *addr, std::string *address_key)
{
    if (d->open_connections >= uint64_t(d->cfg.max_connections)) {
        hf_limit_hit(d, hf_limit::connections, "new connection dropped");
        return false;
    }
    *address_key = address_of(addr);
    uint32_t &count = d->connections_per_address[*address_key];
    if (count >= uint64_t(d->cfg.max_connections_per_address)) {
        hf_limit_hit(d, hf_limit::connections_per_address, "new connection from a busy address dropped");
        if (count == 0)
            d->connections_per_address.erase(*address_key);
        return false;
    }
    count++;
    return true;
}

void hf_limits_release(hf_daemon *d, const std::string &address_key)
{
    auto it = d->connections_per_address.find(address_key);
    if (it != d->connections_per_address.end() && --it->second == 0)
        d->connections_per_address.erase(it);
}

bool hf_bucket_take(hf_token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms, uint64_t *wait_ms)
{
    int64_t cap = int64_t(burst) * 1000;
    if (b->milli_tokens < 0) {
        b->milli_tokens = cap;
    } else {
        // rate tokens a second = rate milli-tokens a millisecond.
        int64_t refill = int64_t(now_ms - b->last_ms) * int64_t(rate);
        b->milli_tokens = b->milli_tokens + refill > cap ? cap : b->milli_tokens + refill;
    }
    b->last_ms = now_ms;
    if (b->milli_tokens >= 1000) {
        b->milli_tokens -= 1000;
        return true;
    }
    *wait_ms = rate ? uint64_t((1000 - b->milli_tokens + int64_t(rate) - 1) / int64_t(rate)) : 1000;
    return false;
}
