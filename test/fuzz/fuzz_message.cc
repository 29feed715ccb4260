// libFuzzer target: every message parser (the TLV field reader under each
// type's schema). First byte: type; second: flags; the rest: the body.
// A body that decodes must encode again and decode to the same fields.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proto/frame.h"

#include "proto/msg.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    hf_decode_limits limits;
    hf_msg m;
    hf_decode_error err;
    if (hf_msg_decode(data[0], data[1], data + 2, size - 2, &limits, &m, &err) != HF_OK) {
        (void)hf_decode_error_text(&err);
        return 0;
    }
    std::string again;
    if (hf_msg_encode(&m, &again) != HF_OK)
        abort();
    hf_frame_header hdr;
    if (hf_frame_header_parse(reinterpret_cast<const uint8_t *>(again.data()), again.size(), SIZE_MAX, &hdr) != HF_OK)
        abort();
    hf_msg back;
    if (hf_msg_decode(hdr.type, hdr.flags, reinterpret_cast<const uint8_t *>(again.data()) + hdr.header_len,
                      size_t(hdr.body_len), &limits, &back, &err) != HF_OK)
        abort();
    if (back.present != m.present || back.id != m.id || back.payload != m.payload || back.to != m.to ||
        back.address_count != m.address_count)
        abort();
    return 0;
}
