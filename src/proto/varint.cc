#include "proto/varint.h"

#include "handoff/protocol.h"

void hf_varint_put(std::string *out, uint64_t v)
{
    // Built on the stack and appended once: every frame field goes through here.
    char b[HF_VARINT_MAX];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = static_cast<char>((v & 0x7f) | 0x80);
        v >>= 7;
    }
    b[n++] = static_cast<char>(v);
    out->append(b, n);
}

size_t hf_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

int hf_varint_get(const uint8_t *buf, size_t len, uint64_t *value, size_t *used)
{
    uint64_t v = 0;
    for (size_t i = 0; i < HF_VARINT_MAX; i++) {
        if (i == len)
            return HF_ERR_NEED_MORE;
        uint8_t b = buf[i];
        // The tenth byte may only carry the 64th bit.
        if (i == HF_VARINT_MAX - 1 && b > 1)
            return HF_ERR_BAD_FRAME;
        v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            // A last group of zero after the first byte is a padded
            // encoding; refusing it keeps every value one byte string.
            if (b == 0 && i > 0)
                return HF_ERR_BAD_FRAME;
            *value = v;
            *used = i + 1;
            return HF_OK;
        }
    }
    return HF_ERR_BAD_FRAME;
}
