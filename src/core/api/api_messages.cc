// POST /v1/accounts/{account}/messages: a backend's message, through the
// same router and store as a device's SEND (quotas, ttl, collapse,
// de-duplication by id), answered once its targets are settled as
// SEND_ACK would be. Devices see it from "@<key id>".
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/api/api_call.h"
#include "core/api/idempotency.h"
#include "core/server/router.h"
#include "proto/clock.h"
#include "proto/token.h"

namespace
{

struct message_fields {
    std::string to, payload, collapse;
    bool has_ttl = false, has_collapse = false, has_id = false;
    uint64_t ttl = 0, id = 0;
};

// An id as the body gives it: a JSON integer, or a string of digits
// (1 to 2^63 - 1, the range every JSON library reads exactly).
bool read_id(json_t *value, uint64_t *id)
{
    if (json_is_integer(value)) {
        json_int_t v = json_integer_value(value);
        *id = uint64_t(v);
        return v >= 1;
    }
    const char *text = json_string_value(value);
    if (!text || !*text || strlen(text) > 19 || strspn(text, "0123456789") != strlen(text))
        return false;
    errno = 0;
    unsigned long long v = strtoull(text, nullptr, 10);
    *id = v;
    return errno == 0 && v >= 1 && v <= uint64_t(INT64_MAX);
}

// Standard base64 or base64url, with or without padding.
bool read_base64(const char *text, std::string *out)
{
    std::string url(text);
    while (!url.empty() && url.back() == '=')
        url.pop_back();
    for (char &c : url) {
        if (c == '+')
            c = '-';
        else if (c == '/')
            c = '_';
    }
    return hf_base64url_decode(url, out);
}

// The body's fields, checked; false once the call is answered 400.
bool read_fields(hf_api_call *call, message_fields *f)
{
    if (!call->body) {
        hf_api_fail(call, 400, "bad_json",
                    "the body must be a JSON object with \"to\" and \"data\" or \"data_base64\"");
        return false;
    }
    const char *key;
    json_t *value;
    bool has_data = false;
    json_object_foreach(call->body, key, value)
    {
        std::string name = key;
        bool ok = true;
        if (name == "to") {
            ok = json_is_string(value);
            f->to = ok ? json_string_value(value) : "";
        } else if (name == "data" || name == "data_base64") {
            if (has_data) {
                hf_api_fail(call, 400, "bad_field", "give \"data\" or \"data_base64\", not both");
                return false;
            }
            has_data = true;
            ok = json_is_string(value);
            if (ok && name == "data")
                f->payload.assign(json_string_value(value), json_string_length(value));
            else if (ok)
                ok = read_base64(json_string_value(value), &f->payload);
        } else if (name == "ttl") {
            ok = json_is_integer(value) && json_integer_value(value) >= 0;
            f->has_ttl = true;
            f->ttl = ok ? uint64_t(json_integer_value(value)) : 0;
        } else if (name == "collapse") {
            ok = json_is_string(value);
            f->has_collapse = true;
            f->collapse = ok ? json_string_value(value) : "";
        } else if (name == "id") {
            ok = read_id(value, &f->id);
            f->has_id = true;
        } else {
            hf_api_fail(call, 400, "unknown_field",
                        "unknown field \"" + name + "\"; a message has to, data or data_base64, ttl, collapse, id");
            return false;
        }
        if (!ok) {
            const char *wanted = name == "id"    ? "an integer from 1 to 2^63-1, or one as a string"
                                 : name == "ttl" ? "a whole number of seconds"
                                 : name == "data_base64" && json_is_string(value) ? "valid base64"
                                                                                  : "a string";
            hf_api_fail(call, 400, "bad_field", "\"" + name + "\" must be " + wanted);
            return false;
        }
    }
    if (f->to.empty() || !has_data) {
        hf_api_fail(call, 400, "missing_field", "a message needs \"to\" and one of \"data\" or \"data_base64\"");
        return false;
    }
    return true;
}

struct message_call {
    hf_api_call *call;
    uint64_t id;
};

void answered(void *arg, const hf_send_outcome *o)
{
    auto *m = static_cast<message_call *>(arg);
    hf_api_call *call = m->call;
    uint64_t id = m->id;
    delete m;
    if (o->status == HF_SEND_REJECTED) {
        hf_api_fail(call, hf_api_status_of(o->code), hf_err_name(o->code), o->text, o->retry_ms);
        return;
    }
    hf_api_reply(call, 200,
                 json_pack("{s:s, s:I, s:I, s:s}", "status", o->status == HF_SEND_DELIVERED ? "delivered" : "stored",
                           "delivered", json_int_t(o->delivered), "stored", json_int_t(o->stored), "id",
                           std::to_string(id).c_str()));
}

// The Idempotency-Key header's id in *id: false once the call is
// answered 400 (a key too long, a key beside an "id", or keys turned off).
bool read_idempotency_key(hf_api_call *call, const message_fields &f, uint64_t *id)
{
    const char *key = evhttp_find_header(evhttp_request_get_input_headers(call->req), "Idempotency-Key");
    if (!key)
        return true;
    hf_api *api = call->api;
    size_t len = strlen(key);
    const char *wrong = len == 0 || len > hf_idempotency_key_max ? "must be 1 to 255 bytes"
                        : f.has_id                               ? "and \"id\" say the same; give one of them"
                        : api->cfg->api_idempotency_keys == 0    ? "is turned off here (api.idempotency_keys = 0)"
                                                                 : nullptr;
    if (wrong) {
        hf_api_fail(call, 400, "bad_field", std::string("Idempotency-Key ") + wrong);
        return false;
    }
    api->idempotency.max_keys = size_t(api->cfg->api_idempotency_keys);
    api->idempotency.keep_ms = uint64_t(api->cfg->dedup_window_ms);
    if (hf_idempotency_pick(&api->idempotency, call->key_id, call->account, key, api->next_msg_id, hf_mono_ms(), id))
        api->next_msg_id++;
    return true;
}

} // namespace

void hf_api_post_message(hf_api_call *call)
{
    message_fields f;
    if (!read_fields(call, &f))
        return;
    uint64_t keyed = 0;
    if (!read_idempotency_key(call, f, &keyed))
        return;
    if (keyed)
        f.id = keyed;
    else if (!f.has_id)
        f.id = call->api->next_msg_id++;
    std::string from = "@" + call->key_id;
    hf_send_request req{call->account, from, f.to, f.id, f.collapse, f.payload, f.has_ttl, f.ttl, f.has_collapse};
    hf_router_submit(call->api->server->router, &req, answered, new message_call{call, f.id});
}
