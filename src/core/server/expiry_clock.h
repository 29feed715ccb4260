// The time expiry goes by. A message's expiry is a wall-clock time, but a
// wall clock that steps forward (a bad NTP source, an operator's date, a
// VM resumed from a snapshot) would expire every queue at the next sweep
// and hide messages from every fetch. So expiry goes by the wall clock
// only while it agrees with the time this process has measured
// (monotonic) since it first asked, within a minute; a clock found further
// ahead is not followed (messages live that much longer), and that is
// logged once. A clock that steps back is followed: messages then live
// longer, which loses nothing. A restart takes the wall clock as it is.
#pragma once
#include <cstdint>

struct hf_expiry_clock {
    uint64_t wall_anchor_ms = 0, mono_anchor_ms = 0; // when first asked
    bool ahead_said = false;                         // the current jump is logged
};

// Unix ms for expiry decisions (sweeps, fetches).
uint64_t hf_expiry_now(hf_expiry_clock *c);

// The same, given the clocks' readings (wall: unix ms; mono: monotonic
// ms); *jumped_s is set to how far the wall clock is ahead when expiry does
// not follow it, else 0.
uint64_t hf_expiry_now_at(hf_expiry_clock *c, uint64_t wall, uint64_t mono, uint64_t *jumped_s);

// How far the wall clock may run ahead of the measured time before expiry
// stops following it.
extern const uint64_t hf_expiry_tolerance_ms;
