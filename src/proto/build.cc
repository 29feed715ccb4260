#include "proto/build.h"

hf_msg hf_msg_error(int code, std::string_view text)
{
    hf_msg m;
    m.type = HF_MSG_ERROR;
    hf_msg_add_reason(&m, code, text);
    return m;
}

hf_msg hf_msg_goaway(int code, std::string_view text)
{
    hf_msg m;
    m.type = HF_MSG_GOAWAY;
    hf_msg_add_reason(&m, code, text);
    return m;
}

hf_msg hf_msg_deliver(uint64_t seq, std::string_view from, std::string_view payload, uint64_t stored_at_ms, uint64_t id,
                      std::string_view collapse)
{
    hf_msg m;
    m.type = HF_MSG_DELIVER;
    m.seq = seq;
    m.from = from;
    m.payload = payload;
    m.stored_at_ms = stored_at_ms;
    m.id = id;
    m.present = uint64_t{1} << HF_TAG_SEQ | uint64_t{1} << HF_TAG_FROM | uint64_t{1} << HF_TAG_PAYLOAD |
                uint64_t{1} << HF_TAG_STORED_AT_MS | uint64_t{1} << HF_TAG_ID;
    if (!collapse.empty()) {
        m.collapse = collapse;
        hf_msg_set(&m, HF_TAG_COLLAPSE);
    }
    return m;
}

hf_msg hf_msg_send_ack(uint64_t id, hf_send_status status)
{
    hf_msg m;
    m.type = HF_MSG_SEND_ACK;
    m.id = id;
    m.status = status;
    hf_msg_set(&m, HF_TAG_ID);
    hf_msg_set(&m, HF_TAG_STATUS);
    return m;
}

void hf_msg_add_reason(hf_msg *m, int code, std::string_view text)
{
    m->code = uint64_t(code);
    m->text = text;
    hf_msg_set(m, HF_TAG_CODE);
    hf_msg_set(m, HF_TAG_TEXT);
}

void hf_msg_add_retry(hf_msg *m, uint64_t retry_ms)
{
    m->retry_ms = retry_ms;
    hf_msg_set(m, HF_TAG_RETRY_MS);
}

void hf_msg_add_counts(hf_msg *m, uint64_t delivered, uint64_t stored, uint64_t rejected)
{
    m->delivered_count = delivered;
    m->stored_count = stored;
    m->rejected_count = rejected;
    hf_msg_set(m, HF_TAG_DELIVERED_COUNT);
    hf_msg_set(m, HF_TAG_STORED_COUNT);
    hf_msg_set(m, HF_TAG_REJECTED_COUNT);
}

void hf_msg_add_backoff(hf_msg *m, uint64_t base_ms, uint64_t cap_ms)
{
    m->backoff_base_ms = base_ms;
    m->backoff_cap_ms = cap_ms;
    hf_msg_set(m, HF_TAG_BACKOFF_BASE_MS);
    hf_msg_set(m, HF_TAG_BACKOFF_CAP_MS);
}

void hf_msg_add_addresses(hf_msg *m, const std::string *addresses, size_t count)
{
    for (size_t i = 0; i < count && m->address_count < HF_MAX_ADDRESSES; i++)
        m->addresses[m->address_count++] = addresses[i];
    if (m->address_count)
        hf_msg_set(m, HF_TAG_ADDRESS);
}
