// libevent common timeouts, by duration: every timer of one duration
// shares a queue, so arming one is O(1) rather than a heap insert.
#pragma once
#include <event2/event.h>

#include <cstdint>
#include <map>

struct hf_timeouts {
    event_base *base = nullptr;
    std::map<uint64_t, const timeval *> by_ms;
};

// The shared timeval for ms (made on first use).
const timeval *hf_timeout(hf_timeouts *t, uint64_t ms);

// Arms ev to fire once after ms, on the common queue of that duration.
void hf_timeout_arm(hf_timeouts *t, event *ev, uint64_t ms);
