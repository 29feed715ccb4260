// Delivering a device's queue: fetching from the store while the window
// has room, DELIVER frames and acknowledgements. A message the device
// cannot take (its DELIVER would pass max_frame, or the device refuses it)
// goes to its dead-letter list (dead_letters.h) so that the rest flows.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/server/session.h"

// Sends stored messages while the window has room.
void hf_delivery_pump(hf_session *s);

// DELIVER_ACK(upto), checked against what was sent: the window drops what
// it covers and the store is told. Returns how many it acknowledged (0: a
// repeat, nothing to do).
size_t hf_delivery_take_ack(hf_session *s, uint64_t upto);

// Whether seq was sent on this connection and not yet acknowledged; and
// whether it was sent as from's message msg_id.
bool hf_delivery_sent(const hf_session *s, uint64_t seq);
bool hf_delivery_sent_as(const hf_session *s, uint64_t seq, const std::string &from, uint64_t msg_id);

// DELIVER_ACK(upto = seq, code): the device acknowledges every seq before
// seq and refuses seq, which goes to its dead-letter list. False when seq
// is not one the device was sent and has not acknowledged.
bool hf_delivery_refuse(hf_session *s, uint64_t seq, int code, const std::string &text);
