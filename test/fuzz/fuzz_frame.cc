// libFuzzer target: a byte stream as the daemon reads it from a socket,
// cut into frames with the incremental header step, each decoded.
#include <cstddef>
#include <cstdint>

#include "proto/frame.h"
#include "proto/msg.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hf_decode_limits limits;
    limits.max_body = 4096;
    size_t pos = 0;
    while (pos < size) {
        size_t head = size - pos < HF_FRAME_HEADER_MAX ? size - pos : HF_FRAME_HEADER_MAX;
        hf_frame_header hdr;
        if (hf_frame_ready(data + pos, head, size - pos, limits.max_body, &hdr) != HF_OK)
            break;
        hf_msg m;
        hf_decode_error err;
        if (hf_msg_decode(hdr.type, hdr.flags, data + pos + hdr.header_len, size_t(hdr.body_len), &limits, &m, &err) !=
            HF_OK)
            break;
        pos += hdr.header_len + size_t(hdr.body_len);
    }
    return 0;
}
