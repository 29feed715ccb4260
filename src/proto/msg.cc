#include "proto/msg.h"

#include "proto/frame.h"
#include "proto/utf8.h"
#include "proto/varint.h"

namespace
{

enum class field_kind : uint8_t { none, uint, string, bytes };

struct tag_spec {
    const char *name;
    field_kind kind;
    uint64_t hf_msg::*uint_member;
    std::string_view hf_msg::*text_member; // string and bytes
};

#define U(name, member)                                                                                                \
    {                                                                                                                  \
        name, field_kind::uint, &hf_msg::member, nullptr                                                               \
    }
#define S(name, member)                                                                                                \
    {                                                                                                                  \
        name, field_kind::string, nullptr, &hf_msg::member                                                             \
    }
#define B(name, member)                                                                                                \
    {                                                                                                                  \
        name, field_kind::bytes, nullptr, &hf_msg::member                                                              \
    }

// Indexed by tag. HF_TAG_ADDRESS is a repeatable string kept in an array,
// so it has no single member.
const tag_spec tag_specs[HF_TAG_MAX + 1] = {
    {"?", field_kind::none, nullptr, nullptr},
    S("token", token),
    U("version_min", version_min),
    U("version_max", version_max),
    U("version", version),
    U("id", id),
    S("to", to),
    S("from", from),
    U("seq", seq),
    U("ttl", ttl),
    S("collapse", collapse),
    B("payload", payload),
    U("status", status),
    U("code", code),
    S("text", text),
    U("heartbeat_ms", heartbeat_ms),
    U("timeout_ms", timeout_ms),
    U("window", window),
    U("max_frame", max_frame),
    {"address", field_kind::string, nullptr, nullptr},
    U("heartbeat_min_ms", heartbeat_min_ms),
    U("heartbeat_max_ms", heartbeat_max_ms),
    U("backoff_base_ms", backoff_base_ms),
    U("backoff_cap_ms", backoff_cap_ms),
    U("upto", upto),
    U("stored_at_ms", stored_at_ms),
    U("delivered_count", delivered_count),
    U("stored_count", stored_count),
    U("rejected_count", rejected_count),
    S("server_id", server_id),
    S("key", key),
    U("weight", weight),
    U("load", load),
    U("draining", draining),
    S("account", account),
    S("device", device),
    U("retry_ms", retry_ms),
    U("refresh_ms", refresh_ms),
    U("max_payload", max_payload),
    U("follow", follow),
    U("online", online),
    U("count", count),
    U("features", features),
    S("api", api),
    S("peers", peers),
    S("store_format", store_format),
    S("app", app),
    B("vapid_key", vapid_key),
    S("endpoint", endpoint),
    U("urgency", urgency),
    U("remove", remove),
    B("device_key", device_key),
    U("e2e", e2e),
    S("route", route),
    S("provider", provider),
};

#undef U
#undef S
#undef B

constexpr uint64_t bit(unsigned tag)
{
    return uint64_t{1} << tag;
}

struct msg_schema {
    uint64_t allowed;
    uint64_t required;
};

// Indexed by message type.
const msg_schema schemas[HF_MSG_TYPE_MAX + 1] = {
    {0, 0},
    /* ALLOC_REQ */
    {bit(HF_TAG_TOKEN) | bit(HF_TAG_VERSION_MIN) | bit(HF_TAG_VERSION_MAX), bit(HF_TAG_TOKEN)},
    /* ALLOC_RESP */
    {bit(HF_TAG_ADDRESS) | bit(HF_TAG_VERSION) | bit(HF_TAG_HEARTBEAT_MIN_MS) | bit(HF_TAG_HEARTBEAT_MAX_MS) |
         bit(HF_TAG_BACKOFF_BASE_MS) | bit(HF_TAG_BACKOFF_CAP_MS),
     bit(HF_TAG_ADDRESS)},
    /* HELLO: device_key publishes the device's keys */
    {bit(HF_TAG_TOKEN) | bit(HF_TAG_VERSION_MIN) | bit(HF_TAG_VERSION_MAX) | bit(HF_TAG_HEARTBEAT_MS) |
         bit(HF_TAG_DEVICE_KEY),
     bit(HF_TAG_TOKEN)},
    /* WELCOME */
    {bit(HF_TAG_VERSION) | bit(HF_TAG_HEARTBEAT_MS) | bit(HF_TAG_TIMEOUT_MS) | bit(HF_TAG_WINDOW) |
         bit(HF_TAG_MAX_FRAME) | bit(HF_TAG_SERVER_ID) | bit(HF_TAG_ACCOUNT) | bit(HF_TAG_DEVICE) |
         bit(HF_TAG_HEARTBEAT_MIN_MS) | bit(HF_TAG_HEARTBEAT_MAX_MS) | bit(HF_TAG_MAX_PAYLOAD) | bit(HF_TAG_FEATURES),
     bit(HF_TAG_VERSION) | bit(HF_TAG_HEARTBEAT_MS) | bit(HF_TAG_TIMEOUT_MS) | bit(HF_TAG_WINDOW) |
         bit(HF_TAG_MAX_FRAME)},
    /* PING: heartbeat_ms asks for a new interval from now on */
    {bit(HF_TAG_ID) | bit(HF_TAG_HEARTBEAT_MS), 0},
    /* PONG: heartbeat_ms and timeout_ms answer such a request */
    {bit(HF_TAG_ID) | bit(HF_TAG_HEARTBEAT_MS) | bit(HF_TAG_TIMEOUT_MS), 0},
    /* SEND */
    {bit(HF_TAG_TO) | bit(HF_TAG_ID) | bit(HF_TAG_TTL) | bit(HF_TAG_COLLAPSE) | bit(HF_TAG_PAYLOAD),
     bit(HF_TAG_TO) | bit(HF_TAG_ID) | bit(HF_TAG_PAYLOAD)},
    /* SEND_ACK */
    {bit(HF_TAG_ID) | bit(HF_TAG_STATUS) | bit(HF_TAG_CODE) | bit(HF_TAG_TEXT) | bit(HF_TAG_DELIVERED_COUNT) |
         bit(HF_TAG_STORED_COUNT) | bit(HF_TAG_REJECTED_COUNT) | bit(HF_TAG_RETRY_MS),
     bit(HF_TAG_ID) | bit(HF_TAG_STATUS)},
    /* DELIVER: app and urgency mark a push */
    {bit(HF_TAG_SEQ) | bit(HF_TAG_FROM) | bit(HF_TAG_PAYLOAD) | bit(HF_TAG_STORED_AT_MS) | bit(HF_TAG_ID) |
         bit(HF_TAG_COLLAPSE) | bit(HF_TAG_APP) | bit(HF_TAG_URGENCY) | bit(HF_TAG_E2E),
     bit(HF_TAG_SEQ) | bit(HF_TAG_FROM) | bit(HF_TAG_PAYLOAD)},
    /* DELIVER_ACK: with code (and text), upto is refused */
    {bit(HF_TAG_UPTO) | bit(HF_TAG_CODE) | bit(HF_TAG_TEXT), bit(HF_TAG_UPTO)},
    /* GOAWAY */
    {bit(HF_TAG_CODE) | bit(HF_TAG_TEXT) | bit(HF_TAG_ADDRESS) | bit(HF_TAG_RETRY_MS), bit(HF_TAG_CODE)},
    /* ERROR (an allocator's may carry its backoff hints) */
    {bit(HF_TAG_CODE) | bit(HF_TAG_TEXT) | bit(HF_TAG_ID) | bit(HF_TAG_RETRY_MS) | bit(HF_TAG_BACKOFF_BASE_MS) |
         bit(HF_TAG_BACKOFF_CAP_MS),
     bit(HF_TAG_CODE)},
    /* REGISTER: version_min and version_max are the protocol versions it
       speaks with devices, store_format what it writes a shared store as
       (an older allocator skips them) */
    {bit(HF_TAG_SERVER_ID) | bit(HF_TAG_KEY) | bit(HF_TAG_ADDRESS) | bit(HF_TAG_WEIGHT) | bit(HF_TAG_LOAD) |
         bit(HF_TAG_DRAINING) | bit(HF_TAG_API) | bit(HF_TAG_VERSION_MIN) | bit(HF_TAG_VERSION_MAX) |
         bit(HF_TAG_STORE_FORMAT),
     bit(HF_TAG_SERVER_ID) | bit(HF_TAG_KEY) | bit(HF_TAG_ADDRESS)},
    /* REGISTER_ACK */
    {bit(HF_TAG_CODE) | bit(HF_TAG_TEXT) | bit(HF_TAG_REFRESH_MS) | bit(HF_TAG_ADDRESS) | bit(HF_TAG_PEERS),
     bit(HF_TAG_CODE)},
    /* PRESENCE_REQ */
    {bit(HF_TAG_ID) | bit(HF_TAG_FOLLOW), bit(HF_TAG_ID)},
    /* PRESENCE: a device's state (with id in an answer, without in a
       change), or an answer's end (id and count, no device) */
    {bit(HF_TAG_ID) | bit(HF_TAG_DEVICE) | bit(HF_TAG_ONLINE) | bit(HF_TAG_COUNT) | bit(HF_TAG_DEVICE_KEY), 0},
    /* SUBSCRIBE: with app, make (or with remove, drop) that app's
       subscription; without, list them all */
    {bit(HF_TAG_ID) | bit(HF_TAG_APP) | bit(HF_TAG_VAPID_KEY) | bit(HF_TAG_REMOVE), bit(HF_TAG_ID)},
    /* SUBSCRIPTION: one (app, endpoint, vapid_key), or an answer's end
       (count; code and text when refused) */
    {bit(HF_TAG_ID) | bit(HF_TAG_APP) | bit(HF_TAG_ENDPOINT) | bit(HF_TAG_VAPID_KEY) | bit(HF_TAG_COUNT) |
         bit(HF_TAG_CODE) | bit(HF_TAG_TEXT),
     bit(HF_TAG_ID)},
    /* WAKE: with route, set that provider's route; with provider and
       remove, drop it; with neither, ask */
    {bit(HF_TAG_ID) | bit(HF_TAG_ROUTE) | bit(HF_TAG_PROVIDER) | bit(HF_TAG_REMOVE), bit(HF_TAG_ID)},
    /* WAKE_ACK: code and text when refused; vapid_key when the server
       wakes through Web Push */
    {bit(HF_TAG_ID) | bit(HF_TAG_CODE) | bit(HF_TAG_TEXT) | bit(HF_TAG_VAPID_KEY), bit(HF_TAG_ID)},
};

int fail(hf_decode_error *err, int code, unsigned tag)
{
    err->code = code;
    err->tag = tag;
    return code;
}

// Stores one known field's value into out.
int decode_field(unsigned tag, const uint8_t *value, size_t len, hf_msg *out, hf_decode_error *err)
{
    const tag_spec &spec = tag_specs[tag];
    if (hf_msg_has(out, tag) && tag != HF_TAG_ADDRESS)
        return fail(err, HF_ERR_DUPLICATE_FIELD, tag);
    std::string_view text(reinterpret_cast<const char *>(value), len);
    switch (spec.kind) {
    case field_kind::uint: {
        uint64_t v = 0;
        size_t used = 0;
        if (len == 0 || hf_varint_get(value, len, &v, &used) != HF_OK || used != len)
            return fail(err, HF_ERR_BAD_FIELD, tag);
        out->*spec.uint_member = v;
        break;
    }
    case field_kind::string:
        if (!hf_utf8_valid(text))
            return fail(err, HF_ERR_BAD_FIELD, tag);
        if (tag == HF_TAG_ADDRESS) {
            if (out->address_count == HF_MAX_ADDRESSES)
                return fail(err, HF_ERR_TOO_MANY_FIELDS, tag);
            out->addresses[out->address_count++] = text;
        } else {
            out->*spec.text_member = text;
        }
        break;
    case field_kind::bytes:
        out->*spec.text_member = text;
        break;
    case field_kind::none:
        return fail(err, HF_ERR_INTERNAL, tag);
    }
    hf_msg_set(out, tag);
    return HF_OK;
}

void put_field_header(std::string *out, unsigned tag, size_t len)
{
    hf_varint_put(out, tag);
    hf_varint_put(out, len);
}

} // namespace

int hf_msg_decode(uint8_t type, uint8_t flags, const uint8_t *body, size_t len, const hf_decode_limits *limits,
                  hf_msg *out, hf_decode_error *err)
{
    *out = hf_msg{};
    *err = hf_decode_error{};
    if (type == 0 || type > HF_MSG_TYPE_MAX)
        return fail(err, HF_ERR_UNEXPECTED_TYPE, 0);
    if (flags & ~HF_FLAGS_KNOWN)
        return fail(err, HF_ERR_BAD_FRAME, 0);
    if (len > limits->max_body)
        return fail(err, HF_ERR_FRAME_TOO_LARGE, 0);
    out->type = type;
    out->flags = flags;
    const msg_schema &schema = schemas[type];
    size_t pos = 0, fields = 0;
    while (pos < len) {
        if (++fields > limits->max_fields)
            return fail(err, HF_ERR_TOO_MANY_FIELDS, 0);
        uint64_t tag = 0, flen = 0;
        size_t used = 0;
        // Inside a complete body, running out of bytes is malformed, not
        // "need more": the frame length already promised them.
        if (hf_varint_get(body + pos, len - pos, &tag, &used) != HF_OK)
            return fail(err, HF_ERR_BAD_FRAME, 0);
        pos += used;
        if (hf_varint_get(body + pos, len - pos, &flen, &used) != HF_OK)
            return fail(err, HF_ERR_BAD_FRAME, tag <= HF_TAG_MAX ? unsigned(tag) : 0);
        pos += used;
        if (flen > len - pos)
            return fail(err, HF_ERR_BAD_FRAME, tag <= HF_TAG_MAX ? unsigned(tag) : 0);
        bool known = tag > 0 && tag <= HF_TAG_MAX && (schema.allowed & bit(unsigned(tag)));
        if (known) {
            int rc = decode_field(unsigned(tag), body + pos, flen, out, err);
            if (rc != HF_OK)
                return rc;
        } else if (flags & HF_FLAG_CRITICAL) {
            return fail(err, HF_ERR_UNKNOWN_CRITICAL, tag <= HF_TAG_MAX ? unsigned(tag) : 0);
        }
        pos += flen;
    }
    uint64_t missing = schema.required & ~out->present;
    if (missing) {
        unsigned tag = 0;
        while (!(missing & bit(tag)))
            tag++;
        return fail(err, HF_ERR_MISSING_FIELD, tag);
    }
    return HF_OK;
}

size_t hf_msg_body_size(const hf_msg *m)
{
    size_t body_len = 0;
    // Only the present fields, in tag order: a frame carries a handful of
    // the possible tags, and every message sent goes through here.
    for (uint64_t left = m->present; left; left &= left - 1) {
        unsigned tag = unsigned(__builtin_ctzll(left));
        const tag_spec &spec = tag_specs[tag];
        if (tag == HF_TAG_ADDRESS) {
            for (size_t i = 0; i < m->address_count; i++)
                body_len += hf_varint_size(tag) + hf_varint_size(m->addresses[i].size()) + m->addresses[i].size();
        } else if (spec.kind == field_kind::uint) {
            size_t vlen = hf_varint_size(m->*spec.uint_member);
            body_len += hf_varint_size(tag) + hf_varint_size(vlen) + vlen;
        } else {
            size_t vlen = (m->*spec.text_member).size();
            body_len += hf_varint_size(tag) + hf_varint_size(vlen) + vlen;
        }
    }
    return body_len;
}

int hf_msg_encode(const hf_msg *m, std::string *out)
{
    if (m->type == 0 || m->type > HF_MSG_TYPE_MAX)
        return HF_ERR_UNEXPECTED_TYPE;
    const msg_schema &schema = schemas[m->type];
    if (m->present & ~schema.allowed)
        return HF_ERR_BAD_FIELD;
    if (m->address_count > HF_MAX_ADDRESSES)
        return HF_ERR_TOO_MANY_FIELDS;

    // The body length first, so the frame is written in one pass into
    // out, with no temporary body buffer.
    size_t body_len = hf_msg_body_size(m);
    out->reserve(out->size() + HF_FRAME_HEADER_MAX + body_len);
    hf_frame_header_put(out, m->type, m->flags, body_len);
    for (uint64_t left = m->present; left; left &= left - 1) {
        unsigned tag = unsigned(__builtin_ctzll(left));
        const tag_spec &spec = tag_specs[tag];
        if (tag == HF_TAG_ADDRESS) {
            for (size_t i = 0; i < m->address_count; i++) {
                put_field_header(out, tag, m->addresses[i].size());
                out->append(m->addresses[i]);
            }
        } else if (spec.kind == field_kind::uint) {
            uint64_t v = m->*spec.uint_member;
            put_field_header(out, tag, hf_varint_size(v));
            hf_varint_put(out, v);
        } else {
            std::string_view v = m->*spec.text_member;
            put_field_header(out, tag, v.size());
            out->append(v);
        }
    }
    return HF_OK;
}

const char *hf_tag_name(unsigned tag)
{
    return tag <= HF_TAG_MAX ? tag_specs[tag].name : "?";
}

std::string hf_decode_error_text(const hf_decode_error *err)
{
    std::string text = hf_err_text(err->code);
    if (err->tag) {
        text += ": field ";
        text += std::to_string(err->tag);
        text += " (";
        text += hf_tag_name(err->tag);
        text += ")";
    }
    return text;
}
