// Messages: one flat struct for every type, because a tag means the same
// field in every message (see include/handoff/protocol.h). Each type has a
// schema saying which tags it allows and which it requires.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "handoff/protocol.h"

#define HF_MAX_ADDRESSES 16
#define HF_DEFAULT_MAX_FIELDS 64

// Decoded string and byte fields point into the frame they came from: they
// are valid only as long as those bytes are.
struct hf_msg {
    uint8_t type = 0;
    uint8_t flags = 0;
    uint64_t present = 0; // bit (1 << tag) for every field present

    std::string_view token, to, from, collapse, payload, text, server_id, key, account, device, api, peers,
        store_format, app, vapid_key, endpoint, device_key, route, provider;
    std::string_view addresses[HF_MAX_ADDRESSES];
    size_t address_count = 0;

    uint64_t version_min = 0, version_max = 0, version = 0;
    uint64_t id = 0, seq = 0, ttl = 0, status = 0, code = 0;
    uint64_t heartbeat_ms = 0, timeout_ms = 0, window = 0, max_frame = 0;
    uint64_t heartbeat_min_ms = 0, heartbeat_max_ms = 0, backoff_base_ms = 0, backoff_cap_ms = 0;
    uint64_t upto = 0, stored_at_ms = 0;
    uint64_t delivered_count = 0, stored_count = 0, rejected_count = 0;
    uint64_t weight = 0, load = 0, draining = 0, retry_ms = 0, refresh_ms = 0, max_payload = 0;
    uint64_t follow = 0, online = 0, count = 0, features = 0, urgency = 0, remove = 0, e2e = 0;
};

struct hf_decode_limits {
    size_t max_body = HF_DEFAULT_MAX_FRAME;
    size_t max_fields = HF_DEFAULT_MAX_FIELDS;
};

// Where decoding failed, for the ERROR frame's text.
struct hf_decode_error {
    int code = HF_OK;
    unsigned tag = 0; // offending tag, 0 if none
};

static inline bool hf_msg_has(const hf_msg *m, unsigned tag)
{
    return (m->present >> tag) & 1u;
}

// Marks a field present; the value must already be set in the struct.
static inline void hf_msg_set(hf_msg *m, unsigned tag)
{
    m->present |= uint64_t{1} << tag;
}

// Whether the version range a HELLO or ALLOC_REQ asks for (version_min,
// default 1; version_max, default version_min) holds the one we speak.
static inline bool hf_msg_speaks_our_version(const hf_msg *m)
{
    uint64_t lowest = hf_msg_has(m, HF_TAG_VERSION_MIN) ? m->version_min : 1;
    uint64_t highest = hf_msg_has(m, HF_TAG_VERSION_MAX) ? m->version_max : lowest;
    return lowest <= HF_PROTOCOL_VERSION && HF_PROTOCOL_VERSION <= highest;
}

// Decodes the body of a frame whose header said type/flags. Checks the
// message's schema: required fields, duplicates, field kinds, and unknown
// tags (skipped unless HF_FLAG_CRITICAL is set). Returns an hf_err.
int hf_msg_decode(uint8_t type, uint8_t flags, const uint8_t *body, size_t len, const hf_decode_limits *limits,
                  hf_msg *out, hf_decode_error *err);

// Appends a whole frame (header and body) for every field present in m.
// Returns HF_ERR_BAD_FIELD if m has a field its type does not allow.
int hf_msg_encode(const hf_msg *m, std::string *out);

// The length of the body hf_msg_encode would write for m.
size_t hf_msg_body_size(const hf_msg *m);

// Human-readable detail for a decode error: "field 6 (to): duplicate".
std::string hf_decode_error_text(const hf_decode_error *err);

// Name of a tag ("payload"), "?" if unknown.
const char *hf_tag_name(unsigned tag);
