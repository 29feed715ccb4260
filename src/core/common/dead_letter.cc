#include "core/common/dead_letter.h"

#include "proto/varint.h"

const char *const hf_dead_letter_suffix = "~dead";
const uint64_t hf_dead_letter_expiry_ms = 253402300799000ull;

namespace
{

// The header's first bytes: what it is, and its format's version.
const char magic[] = {'h', 'f', 'd', 'l', 1};

void put_text(std::string *out, std::string_view text)
{
    hf_varint_put(out, text.size());
    out->append(text);
}

struct reader {
    const uint8_t *at, *end;
    bool ok = true;

    uint64_t number()
    {
        uint64_t v = 0;
        size_t used = 0;
        if (!ok || hf_varint_get(at, size_t(end - at), &v, &used) != 0) {
            ok = false;
            return 0;
        }
        at += used;
        return v;
    }
    std::string text()
    {
        uint64_t len = number();
        if (!ok || len > uint64_t(end - at)) {
            ok = false;
            return {};
        }
        std::string s(reinterpret_cast<const char *>(at), size_t(len));
        at += len;
        return s;
    }
};

} // namespace

std::string hf_dead_letter_queue(std::string_view device)
{
    return std::string(device) + hf_dead_letter_suffix;
}

std::string hf_dead_letter_encode(const hf_store_msg *original, int code, std::string_view reason, uint64_t dead_at_ms)
{
    std::string out(magic, sizeof magic);
    hf_varint_put(&out, uint64_t(code));
    put_text(&out, reason);
    hf_varint_put(&out, dead_at_ms);
    hf_varint_put(&out, original->stored_at_ms);
    hf_varint_put(&out, original->expires_at_ms);
    put_text(&out, original->collapse_key ? original->collapse_key : "");
    out.append(reinterpret_cast<const char *>(original->payload), original->payload_len);
    return out;
}

hf_store_enqueue_req hf_dead_letter_request(const char *account, const std::string &queue, const hf_store_msg *original,
                                            const std::string &payload)
{
    // No collapse key: one dead letter must not replace another.
    return hf_store_enqueue_req{account,
                                queue.c_str(),
                                original->from,
                                original->msg_id,
                                nullptr,
                                reinterpret_cast<const uint8_t *>(payload.data()),
                                payload.size(),
                                original->stored_at_ms,
                                hf_dead_letter_expiry_ms};
}

bool hf_dead_letter_decode(const hf_store_msg *entry, hf_dead_letter *out)
{
    if (entry->payload_len < sizeof magic || std::string_view(reinterpret_cast<const char *>(entry->payload),
                                                              sizeof magic) != std::string_view(magic, sizeof magic))
        return false;
    reader r{entry->payload + sizeof magic, entry->payload + entry->payload_len};
    out->seq = entry->seq;
    out->from = entry->from ? entry->from : "";
    out->msg_id = entry->msg_id;
    uint64_t code = r.number();
    out->code = int(code);
    out->reason = r.text();
    out->dead_at_ms = r.number();
    out->stored_at_ms = r.number();
    out->expires_at_ms = r.number();
    out->collapse_key = r.text();
    if (!r.ok || code > 0xffff)
        return false;
    out->payload = std::string_view(reinterpret_cast<const char *>(r.at), size_t(r.end - r.at));
    return true;
}
