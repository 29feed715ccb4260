#include "client/hb_probe.h"

namespace
{

uint64_t clamp(const hf_hb_probe *p, uint64_t ms)
{
    return ms < p->min_ms ? p->min_ms : ms > p->max_ms ? p->max_ms : ms;
}

} // namespace

void hf_hb_probe_start(hf_hb_probe *p, uint64_t min_ms, uint64_t max_ms, uint64_t granted_ms)
{
    p->min_ms = min_ms;
    p->max_ms = max_ms < min_ms ? min_ms : max_ms;
    p->current_ms = clamp(p, granted_ms);
    // What worked on an earlier connection still counts; otherwise only the
    // floor is known to be safe.
    if (p->last_good_ms < p->min_ms || p->last_good_ms > p->current_ms)
        p->last_good_ms = p->min_ms;
    p->successes = 0;
}

bool hf_hb_probe_pinned(const hf_hb_probe *p, uint64_t now_ms)
{
    return now_ms < p->pinned_until_ms;
}

uint64_t hf_hb_probe_success(hf_hb_probe *p, uint64_t now_ms)
{
    if (++p->successes < p->successes_to_grow)
        return p->current_ms;
    p->successes = 0;
    if (p->current_ms > p->last_good_ms)
        p->last_good_ms = p->current_ms;
    if (hf_hb_probe_pinned(p, now_ms) || p->current_ms >= p->max_ms)
        return p->current_ms;
    // Grow by half: a few steps cover a wide range, and a failed step
    // costs at most a third of the interval that worked.
    p->current_ms = clamp(p, p->current_ms + p->current_ms / 2);
    return p->current_ms;
}

uint64_t hf_hb_probe_failure(hf_hb_probe *p, uint64_t now_ms)
{
    if (p->current_ms > p->last_good_ms) {
        p->current_ms = p->last_good_ms; // the probe was too long: step back
    } else {
        // Even the known-good interval failed: the path changed. Halve.
        p->current_ms = clamp(p, p->current_ms / 2);
        p->last_good_ms = p->current_ms;
    }
    p->successes = 0;
    p->pinned_until_ms = now_ms + p->pin_ms;
    return p->current_ms;
}

void hf_hb_probe_granted(hf_hb_probe *p, uint64_t granted_ms)
{
    p->current_ms = granted_ms;
    if (p->last_good_ms > granted_ms)
        p->last_good_ms = granted_ms;
}
