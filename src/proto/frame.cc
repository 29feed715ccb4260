#include "proto/frame.h"

#include "handoff/protocol.h"
#include "proto/varint.h"

int hf_frame_header_parse(const uint8_t *buf, size_t len, size_t max_body, hf_frame_header *hdr)
{
    if (len < 3)
        return HF_ERR_NEED_MORE;
    hdr->type = buf[0];
    hdr->flags = buf[1];
    size_t used = 0;
    int rc = hf_varint_get(buf + 2, len - 2, &hdr->body_len, &used);
    if (rc != HF_OK)
        return rc;
    hdr->header_len = 2 + used;
    if (hdr->type == 0 || (hdr->flags & ~HF_FLAGS_KNOWN))
        return HF_ERR_BAD_FRAME;
    if (hdr->body_len > max_body)
        return HF_ERR_FRAME_TOO_LARGE;
    return HF_OK;
}

void hf_frame_header_put(std::string *out, uint8_t type, uint8_t flags, size_t body_len)
{
    out->push_back(static_cast<char>(type));
    out->push_back(static_cast<char>(flags));
    hf_varint_put(out, body_len);
}

int hf_frame_ready(const uint8_t *head, size_t head_len, size_t avail, size_t max_body, hf_frame_header *hdr)
{
    int rc = hf_frame_header_parse(head, head_len, max_body, hdr);
    if (rc != HF_OK)
        return rc;
    return avail < hdr->header_len + hdr->body_len ? HF_ERR_NEED_MORE : HF_OK;
}
