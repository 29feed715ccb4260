// Telling the application: trace lines and state changes; and the timers'
// and ids' small helpers.
#pragma once
#include <event2/event.h>

#include <cstdint>

#include "client/client_state.h"

namespace hf_clientlib
{

// A line for the application's on_trace, if it has one.
void trace(hf_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// 64 random bits (from the clock and pid if OpenSSL has none).
uint64_t random_u64(void);

// The new state, told to on_state (CONNECTING and ALLOCATING each time,
// the others only when they change).
void set_state(hf_client *c, int state, const char *detail);

// Fires ev once after ms.
void arm(event *ev, uint64_t ms);

} // namespace hf_clientlib
