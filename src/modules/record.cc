#include "modules/record.h"

std::string hf_record_encode(const hf_store_enqueue_req *req)
{
    const char *collapse = req->collapse_key ? req->collapse_key : "";
    std::string r;
    r.reserve(24 + 2 + strlen(req->from) + 2 + strlen(collapse) + req->payload_len); // one allocation
    hf_put_be64(&r, req->msg_id);
    hf_put_be64(&r, req->stored_at_ms);
    hf_put_be64(&r, req->expires_at_ms);
    for (const char *s : {req->from, collapse}) {
        size_t n = strlen(s);
        r.push_back(char(n >> 8));
        r.push_back(char(n & 0xff));
        r.append(s, n);
    }
    r.append(reinterpret_cast<const char *>(req->payload), req->payload_len);
    return r;
}

bool hf_record_decode(const void *data, size_t len, hf_record *out)
{
    auto *p = static_cast<const uint8_t *>(data);
    size_t pos = 24;
    if (len < pos)
        return false;
    out->msg_id = hf_get_be64(p);
    out->stored_at = hf_get_be64(p + 8);
    out->expires_at = hf_get_be64(p + 16);
    for (std::string *s : {&out->from, &out->collapse}) {
        if (len < pos + 2)
            return false;
        size_t n = (size_t(p[pos]) << 8) | p[pos + 1];
        pos += 2;
        if (len < pos + n)
            return false;
        s->assign(reinterpret_cast<const char *>(p + pos), n);
        pos += n;
    }
    out->payload = p + pos;
    out->payload_len = len - pos;
    return true;
}

bool hf_fetch_batch::take(uint64_t seq, const void *record, size_t len)
{
    hf_record r;
    if (out.size() >= max_count)
        return false;
    if (!hf_record_decode(record, len, &r) || r.expires_at <= now_ms)
        return true;
    if (!out.empty() && bytes + r.payload_len > max_bytes)
        return false;
    bytes += r.payload_len;
    records.push_back(std::move(r));
    const hf_record &kept = records.back();
    out.push_back(hf_store_msg{seq, kept.from.c_str(), kept.msg_id,
                               kept.collapse.empty() ? nullptr : kept.collapse.c_str(), kept.payload, kept.payload_len,
                               kept.stored_at, kept.expires_at});
    return true;
}
