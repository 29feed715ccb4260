// A device's dead-letter list: the messages it cannot take (a DELIVER
// larger than max_frame, or one the device refused with DELIVER_ACK's
// code), kept until an operator retries or purges them. The list is a
// queue of its own in the store, named after the device with
// hf_dead_letter_suffix (no device name holds '~'), so every store keeps
// it as durably as the device's queue, moves it with the device and needs
// no op of its own. An entry's payload is the original message's behind a
// header that says why and when it was moved; the entry keeps the
// original's from and id, so moving one again (a crash between the copy
// and the acknowledgement) is taken by the store as a resend.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "handoff/module.h"

extern const char *const hf_dead_letter_suffix; // "~dead"

// The store's queue name of device's dead-letter list.
std::string hf_dead_letter_queue(std::string_view device);

// Dead letters never expire: an entry keeps this expiry (year 9999, below
// 2^53 as the Redis store's scripts need), the original's is in its header.
extern const uint64_t hf_dead_letter_expiry_ms;

// An entry, read back.
struct hf_dead_letter {
    uint64_t seq = 0; // in the dead-letter list
    std::string from;
    uint64_t msg_id = 0;
    int code = 0;            // why: an error code of the protocol (proto/frame.h)
    std::string reason;      // what the server or the device said
    uint64_t dead_at_ms = 0; // when it was moved
    uint64_t stored_at_ms = 0;
    uint64_t expires_at_ms = 0; // the original's
    std::string collapse_key;
    std::string_view payload; // into the entry it was read from
};

// The entry's payload for original, moved at dead_at_ms for code and reason.
std::string hf_dead_letter_encode(const hf_store_msg *original, int code, std::string_view reason, uint64_t dead_at_ms);

// The store request that adds it (pointing into original and payload).
hf_store_enqueue_req hf_dead_letter_request(const char *account, const std::string &queue, const hf_store_msg *original,
                                            const std::string &payload);

// Reads an entry back; false when it is not one (then out is unspecified).
bool hf_dead_letter_decode(const hf_store_msg *entry, hf_dead_letter *out);
