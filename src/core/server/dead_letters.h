// Moving the messages a device cannot take to its dead-letter list
// (core/common/dead_letter.h) while its connection lasts: one DELIVER
// larger than max_frame, or one the device refused (DELIVER_ACK with a
// code). A connection that ends says nothing about a message, so nothing
// else moves one. The store is told of the device's acknowledgements only
// up to the first message not yet moved, so a crash between the two never
// loses one: at worst it is moved again (the list takes that as a resend).
#pragma once
#include <cstdint>
#include <string>

#include "core/server/session.h"
#include "handoff/module.h"

// m (fetched, not sent, now out of the window) goes to the list.
void hf_dead_letters_move(hf_session *s, const hf_store_msg *m, int code, const std::string &reason);

// The device refused seq (sent, now out of the window); the store is read
// for it.
void hf_dead_letters_refused(hf_session *s, uint64_t seq, int code, const std::string &reason);

// Tells the store what the device acknowledged (s->acked_upto), short of
// the first message still on its way to the list.
void hf_dead_letters_ack_store(hf_session *s);
