#include "core/server/expiry_clock.h"

#include "core/common/log.h"
#include "proto/clock.h"

const uint64_t hf_expiry_tolerance_ms = 60000;

uint64_t hf_expiry_now_at(hf_expiry_clock *c, uint64_t wall, uint64_t mono, uint64_t *jumped_s)
{
    *jumped_s = 0;
    if (c->mono_anchor_ms == 0) {
        c->wall_anchor_ms = wall;
        c->mono_anchor_ms = mono;
    }
    uint64_t measured = c->wall_anchor_ms + (mono - c->mono_anchor_ms);
    if (wall <= measured + hf_expiry_tolerance_ms) {
        if (wall < measured) // stepped back: follow it, and measure from here
            c->wall_anchor_ms = wall, c->mono_anchor_ms = mono;
        return wall;
    }
    *jumped_s = (wall - measured) / 1000;
    return measured;
}

uint64_t hf_expiry_now(hf_expiry_clock *c)
{
    uint64_t jumped_s = 0, now = hf_expiry_now_at(c, hf_wall_ms(), hf_mono_ms(), &jumped_s);
    if (jumped_s && !c->ahead_said)
        hf_log(HF_LOG_WARNING,
               "clock: the wall clock is %llu s ahead of the time measured since the daemon started; expiry does not "
               "follow the jump (messages live that much longer) until the daemon restarts; check NTP",
               (unsigned long long)jumped_s);
    else if (!jumped_s && c->ahead_said)
        hf_log(HF_LOG_INFO, "clock: the wall clock agrees with the measured time again; expiry follows it");
    c->ahead_said = jumped_s != 0;
    return now;
}
