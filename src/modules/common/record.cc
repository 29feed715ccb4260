#include "modules/common/record.h"

void hf_record_append(std::string *out, const hf_store_enqueue_req *req)
{
    const char *collapse = req->collapse_key ? req->collapse_key : "";
    size_t from_len = strlen(req->from), collapse_len = strlen(collapse);
    out->reserve(out->size() + 24 + 2 + from_len + 2 + collapse_len + req->payload_len); // one allocation
    hf_put_be64(out, req->msg_id);
    hf_put_be64(out, req->stored_at_ms);
    hf_put_be64(out, req->expires_at_ms);
    for (auto [s, n] : {std::pair{req->from, from_len}, std::pair{collapse, collapse_len}}) {
        out->push_back(char(n >> 8));
        out->push_back(char(n & 0xff));
        out->append(s, n);
    }
    out->append(reinterpret_cast<const char *>(req->payload), req->payload_len);
}

std::string hf_record_encode(const hf_store_enqueue_req *req)
{
    std::string r;
    hf_record_append(&r, req);
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
    if (!hf_record_decode(record, len, &r)) {
        undecodable_seq = seq;
        return false;
    }
    if (r.expires_at <= now_ms)
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
