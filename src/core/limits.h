// Limits that bound what one peer can cost: connections in all and per
// source address, frame and send rates (token buckets), devices online per
// account. Reaching a limit is counted, and logged at most once per
// log.limit_interval per limit, with the count since the last line.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>

struct hf_daemon;

enum class hf_limit { connections, connections_per_address, frame_rate, send_rate, devices_per_account, count };

// Name of the config key behind a limit ("limits.send_rate").
const char *hf_limit_key(hf_limit limit);

// Counts one hit and logs it if this limit has not been logged lately.
void hf_limit_hit(hf_daemon *d, hf_limit limit, const char *detail);

// Admits a new connection from addr (total and per-address limits); on
// success fills *address_key, which hf_limits_release takes back.
bool hf_limits_admit(hf_daemon *d, const sockaddr *addr, std::string *address_key);
void hf_limits_release(hf_daemon *d, const std::string &address_key);

// A token bucket: `rate` tokens a second, at most `burst` saved up.
struct hf_token_bucket {
    int64_t milli_tokens = -1; // -1: not started (full on first use)
    uint64_t last_ms = 0;
};

// Takes one token if there is one. Otherwise false, and *wait_ms says when
// the next one comes.
bool hf_bucket_take(hf_token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms, uint64_t *wait_ms);
