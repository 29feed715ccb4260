// LEB128 unsigned varints, as every integer on the wire is encoded.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

// Appends v as a minimal varint to out.
void hf_varint_put(std::string *out, uint64_t v);

// Bytes hf_varint_put would write for v.
size_t hf_varint_size(uint64_t v);

// Reads one varint from buf[0..len). On success stores the value and the
// number of bytes used and returns HF_OK. HF_ERR_NEED_MORE if the bytes end
// inside the varint; HF_ERR_BAD_FRAME if it is longer than 10 bytes,
// overflows 64 bits, or is not minimal (a trailing 0x00 group).
int hf_varint_get(const uint8_t *buf, size_t len, uint64_t *value, size_t *used);
