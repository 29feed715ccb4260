#include "net/frame_reader.h"

#include "proto/frame.h"

int hf_frame_next(evbuffer *in, const hf_decode_limits *limits, hf_msg *m, size_t *frame_len, std::string *why)
{
    size_t avail = evbuffer_get_length(in);
    if (avail == 0)
        return HF_ERR_NEED_MORE;
    uint8_t head[HF_FRAME_HEADER_MAX];
    ev_ssize_t n = evbuffer_copyout(in, head, avail < sizeof head ? avail : sizeof head);
    hf_frame_header hdr;
    int rc = hf_frame_ready(head, size_t(n < 0 ? 0 : n), avail, limits->max_body, &hdr);
    if (rc == HF_ERR_NEED_MORE)
        return rc;
    if (rc != HF_OK) {
        *why = rc == HF_ERR_FRAME_TOO_LARGE ? "frame body of " + std::to_string(hdr.body_len) +
                                                  " bytes exceeds max_frame " + std::to_string(limits->max_body)
                                            : std::string(hf_err_text(rc)) + " in frame header";
        return rc;
    }
    *frame_len = hdr.header_len + size_t(hdr.body_len);
    const uint8_t *frame = evbuffer_pullup(in, ev_ssize_t(*frame_len));
    hf_decode_error err;
    rc = hf_msg_decode(hdr.type, hdr.flags, frame + hdr.header_len, size_t(hdr.body_len), limits, m, &err);
    if (rc != HF_OK)
        *why = std::string(hf_msg_type_name(hdr.type)) + ": " + hf_decode_error_text(&err);
    return rc;
}
