// Telling the application: trace lines, state changes and a request its
// link took with it; and the timers'
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

// The link l is going: what was asked on it will not be answered. A
// SUBSCRIBE's and a WAKE's callback hear disconnected (a SUBSCRIBE's
// complete, with that code);
// PRESENCE answers are no longer awaited; the DELIVERs it brought that
// wait for keys (e2e.cc) are dropped, to come again from the next server.
void requests_lost(hf_client *c, const hf_link *l);

// Fires ev once after ms.
void arm(event *ev, uint64_t ms);

} // namespace hf_clientlib
