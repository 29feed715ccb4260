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

// The incremental step over a receive buffer: given its first bytes (head,
// up to HF_FRAME_HEADER_MAX) and how many bytes it holds in all (avail),
// says whether one whole frame is there. HF_OK: hdr describes a frame of
// hdr->header_len + hdr->body_len bytes, all present. HF_ERR_NEED_MORE:
// wait for more. Anything else: the stream is malformed; close it.
int hf_frame_ready(const uint8_t *head, size_t head_len, size_t avail, size_t max_body, hf_frame_header *hdr);
