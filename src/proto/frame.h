// Frame layer: type:u8 | flags:u8 | length:varint | body.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

struct hf_frame_header {
    uint8_t type;
    uint8_t flags;
    uint64_t body_len;
    size_t header_len; // bytes before the body
};

// Parses a frame header from the first bytes of buf. This is the
// incremental step: call it on whatever has arrived so far.
// HF_ERR_NEED_MORE: not enough bytes for the header yet.
// HF_ERR_FRAME_TOO_LARGE: body_len > max_body (hdr is still filled in).
// HF_ERR_BAD_FRAME: bad varint, reserved flag bits set, or unknown type 0.
int hf_frame_header_parse(const uint8_t *buf, size_t len, size_t max_body, hf_frame_header *hdr);

// Appends a frame header for a body of body_len bytes.
void hf_frame_header_put(std::string *out, uint8_t type, uint8_t flags, size_t body_len);
