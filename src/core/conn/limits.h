// Limits that bound what one peer can cost: connections in all and per
// source address, frame and send rates (token buckets), devices online per
// account. Reaching a limit is counted, and logged at most once per
// log.limit_interval per limit, with the count since the last line.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "core/common/config.h"

enum class hf_limit {
    connections,
    connections_per_address,
    frame_rate,
    send_rate,
    devices_per_account,
    unanswered_sends,
    api_connections,
    metrics_connections,
    count
};

struct hf_limits {
    const hf_config *cfg = nullptr;
    std::unordered_map<std::string, uint32_t> connections_per_address; // raw address bytes -> open
    uint64_t hits[int(hf_limit::count)] = {};
    struct {
        uint64_t last_logged_ms = 0;
        uint64_t unlogged = 0; // hits since the last line
    } logs[int(hf_limit::count)];
};

// Name of the config key behind a limit ("limits.send_rate").
const char *hf_limit_key(hf_limit limit);

// Counts one hit and logs it if this limit has not been logged lately.
void hf_limit_hit(hf_limits *l, hf_limit limit, const char *detail);

// Admits a new connection from addr beside the open ones (total and
// per-address limits): hf_limit::count, and *address_key is filled, which
// hf_limit_release takes back. Else the limit it would pass, counted as
// a hit.
hf_limit hf_limit_admit(hf_limits *l, size_t open, const sockaddr *addr, std::string *address_key);
void hf_limit_release(hf_limits *l, const std::string &address_key);
