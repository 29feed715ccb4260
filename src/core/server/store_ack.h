// Telling the store what a device acknowledged. A store whose seqs can
// fork (hf_store_ops.ack_sent: a Redis primary cut off from the others
// numbers on while its promoted replica numbers the same seqs) is told
// what was sent as each seq, and drops only those messages; where it holds
// another one, the device is cut so that it fetches again from there and
// is shown what the store kept (docs/faults.md, N6).
#pragma once
#include <cstdint>

#include "core/server/session.h"

// The device's acknowledgement of every seq up to upto goes to the store
// (the messages of s->acked_unstored up to it with it, for ack_sent).
void hf_store_ack(hf_session *s, uint64_t upto);
