// Delivering a device's queue: fetching from the store while the window
// has room, DELIVER frames, acknowledgements, and the messages a device
// cannot take (too large for max_frame, or ending delivery.max_attempts
// connections in a row), which are set aside so the rest flows.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/server/session.h"

// Sends stored messages while the window has room.
void hf_delivery_pump(hf_session *s);

// DELIVER_ACK(upto), checked against what was sent: the window drops what
// it covers and the store is told. Returns how many it acknowledged (0: a
// repeat, nothing to do).
size_t hf_delivery_take_ack(hf_session *s, uint64_t upto);

// After an acknowledgement: sets aside what it passed or bared, and refills
// the window.
void hf_delivery_after_ack(hf_session *s);

// The device's connection ended; with a message unacknowledged (not by a
// drain), that counts towards delivery.max_attempts.
void hf_delivery_connection_ended(hf_session *s);
