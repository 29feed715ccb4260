// A stored message as store_lmdb and store_redis keep it: one string, so
// a queue entry is one value. Big-endian: msg_id, stored_at_ms,
// expires_at_ms (8 bytes each); from's length (2) and from; the collapse
// key's length (2) and the key (0 bytes: none); then the payload. The
// Redis store's Lua scripts read the same layout (src/modules/redis/lua/).
#ifndef HANDOFF_MODULES_RECORD_H
#define HANDOFF_MODULES_RECORD_H

#include <endian.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "handoff/module.h"
#include "proto/be64.h"

// A record of req, appended to *out (store_redis gathers a pass's
// records for one device in one string), or on its own.
void hf_record_append(std::string *out, const hf_store_enqueue_req *req);
std::string hf_record_encode(const hf_store_enqueue_req *req);

struct hf_record {
    uint64_t msg_id, stored_at, expires_at;
    std::string from, collapse; // copied: they must be NUL-terminated
    const uint8_t *payload;     // inside the decoded bytes
    size_t payload_len;
};

// False for bytes too short for what their lengths say.
bool hf_record_decode(const void *data, size_t len, hf_record *out);

// What one fetch returns, gathered from a store or from a tail cache:
// records are decoded into `records`, which keeps their strings in place
// until the fetch's callback.
struct hf_fetch_batch {
    uint32_t max_count;
    uint64_t max_bytes, now_ms;
    uint64_t bytes = 0;
    std::vector<hf_store_msg> out;
    std::deque<hf_record> records;
    uint64_t undecodable_seq = 0; // the message the batch stopped at, if one did not decode

    // Takes one stored message, or skips it if expired (the sweep drops
    // those); false when the batch is full and the message was not taken,
    // or when it does not decode: the batch ends before it, never past it.
    bool take(uint64_t seq, const void *record, size_t len);

    // What the fetch answers: HF_STORE_UNDECODABLE when the batch is empty
    // because its first message does not decode.
    int status() const { return out.empty() && undecodable_seq ? HF_STORE_UNDECODABLE : HF_STORE_OK; }
};

#endif
