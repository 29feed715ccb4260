// Adaptive heartbeat, the client's half: probe longer ping intervals while
// the network path keeps the connection alive (NAT and carrier middleboxes
// drop idle mappings after an unknown time), step back to the last interval
// that worked after a failure and pin it for a while. Pure code, driven by
// the caller's clock; docs/heartbeat.md has the states and numbers.
#pragma once
#include <cstdint>

struct hf_hb_probe {
    uint64_t min_ms = 0, max_ms = 0; // the server's bounds
    uint64_t current_ms = 0;         // interval in use
    uint64_t last_good_ms = 0;       // longest interval proven to work
    uint32_t successes = 0;          // PONGs in a row at current_ms
    uint64_t pinned_until_ms = 0;    // no probing before this time
    uint32_t successes_to_grow = 3;
    uint64_t pin_ms = 30 * 60 * 1000;
};

// Starts probing within [min_ms, max_ms] from granted_ms.
void hf_hb_probe_start(hf_hb_probe *p, uint64_t min_ms, uint64_t max_ms, uint64_t granted_ms);

// A PONG came in time at current_ms. Returns the interval to ask for next:
// current_ms again, or a longer one to probe.
uint64_t hf_hb_probe_success(hf_hb_probe *p, uint64_t now_ms);

// A ping went unanswered at current_ms (the path dropped the connection).
// Returns the interval to use from now on.
uint64_t hf_hb_probe_failure(hf_hb_probe *p, uint64_t now_ms);

// The server granted granted_ms for what was asked (it may clamp).
void hf_hb_probe_granted(hf_hb_probe *p, uint64_t granted_ms);

bool hf_hb_probe_pinned(const hf_hb_probe *p, uint64_t now_ms);
