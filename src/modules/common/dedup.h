// De-duplication by a sender's recent ids, for every store: what a store
// keeps per (target, sender) pair, not per message, so its size does not
// grow with traffic (docs/protocol.md, "Resends").
//
// A record holds the highest id the pair has accepted (`top`) and a ring
// of `width` bits, one per id in (top - width, top]: bit (id mod width)
// says whether that id was accepted. Clients that number their messages
// upwards (libhandoff and the JavaScript client do) have every resend
// within `width` ids of their newest recognised. An id more than `width`
// below the top cannot be judged and is taken as new; one more than
// `restart_gap` below it is a client that restarted lower (both clients
// start at a random point), and the ring begins again there. The same
// rules are written in Lua for the Redis store (src/modules/redis/lua/lib_dedup.lua);
// test_dedup holds them.
//
// Layout (big-endian): top, last_seq, last_ms (8 bytes each), then the
// ring of width / 8 bytes. last_seq is the newest seq the pair was given,
// so that a resend can be answered `delivered` once the target has
// acknowledged it; last_ms lets a store forget pairs silent for
// delivery.dedup_window.
#ifndef HANDOFF_MODULES_DEDUP_H
#define HANDOFF_MODULES_DEDUP_H

#include <cstddef>
#include <cstdint>
#include <string>

// Ids further than this below a pair's top are a restarted client's.
const uint64_t hf_dedup_restart_gap = uint64_t(1) << 31;
const size_t hf_dedup_header_bytes = 24;

// True when the record (len bytes, or none: len 0) has accepted id.
bool hf_dedup_seen(const uint8_t *record, size_t len, uint64_t id);

// Records id as accepted with the seq it was given: *record is updated
// in place, or begun afresh with `width` bits (a power of two, at least
// 64) when it is empty or of another width.
void hf_dedup_accept(std::string *record, size_t width, uint64_t id, uint64_t seq, uint64_t now_ms);

// The newest seq and the time of the newest accept; 0 for no record.
uint64_t hf_dedup_last_seq(const uint8_t *record, size_t len);
uint64_t hf_dedup_last_ms(const uint8_t *record, size_t len);

#endif
