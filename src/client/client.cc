// libhandoff's public API; see include/handoff/client.h.
#include "handoff/client.h"

#include <event2/event.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <cstring>

#include "client/client_state.h"
#include "client/events.h"
#include "client/failover.h"
#include "client/frames.h"
#include "proto/clock.h"
#include "proto/ece.h"
#include "proto/utf8.h"

using namespace hf_clientlib;

extern "C" {

const char *hf_client_state_name(int state)
{
    static const char *names[] = {"idle", "allocating", "connecting", "connected", "backing-off", "stopped"};
    return state >= 0 && state <= HF_CLIENT_STOPPED ? names[state] : "unknown";
}

hf_client *hf_client_new(event_base *base, const hf_client_options *opts, const hf_client_callbacks *callbacks,
                         void *user)
{
    if (!base || !opts || !opts->allocator_count || !opts->token || !*opts->token)
        return nullptr;
    SSL_CTX *tls = hf_link_tls_ctx(opts->ca_file);
    if (!tls)
        return nullptr;
    auto *c = new hf_client;
    c->base = base;
    if (callbacks)
        c->cb = *callbacks;
    else
        c->cb = hf_client_callbacks{};
    c->user = user;
    for (size_t i = 0; i < opts->allocator_count; i++)
        c->allocators.emplace_back(opts->allocators[i]);
    c->token = opts->token;
    c->server_name = opts->server_name ? opts->server_name : "";
    c->heartbeat_ms = opts->heartbeat_ms;
    c->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : default_connect_timeout_ms;
    c->ping_timeout_ms = opts->ping_timeout_ms ? opts->ping_timeout_ms : default_ping_timeout_ms;
    c->backoff_base_ms = opts->backoff_base_ms ? opts->backoff_base_ms : default_backoff_base_ms;
    c->backoff_cap_ms = opts->backoff_cap_ms ? opts->backoff_cap_ms : default_backoff_cap_ms;
    if (c->backoff_cap_ms < c->backoff_base_ms)
        c->backoff_cap_ms = c->backoff_base_ms;
    c->tls = tls;
    c->link_callbacks = &link_callbacks;
    c->step_timer = event_new(base, -1, 0, on_step_timer, c);
    c->ping_timer = event_new(base, -1, 0, on_ping_timer, c);
    // Ids must not repeat for this device within the server's dedup
    // window, across restarts too: start at a random 62-bit point.
    c->next_id = (random_u64() >> 2) + 1;
    c->allocator_index = size_t(random_u64() % c->allocators.size());
    return c;
}

int hf_client_start(hf_client *c)
{
    if (c->state != HF_CLIENT_IDLE && c->state != HF_CLIENT_STOPPED)
        return 0;
    c->allocators_tried = 0;
    allocate(c);
    return 0;
}

int hf_client_send(hf_client *c, const char *to, const void *payload, size_t len, uint32_t ttl_s, const char *collapse,
                   uint64_t *id)
{
    if (!to || !*to || c->state == HF_CLIENT_STOPPED)
        return -1;
    // What no server would take fails here, alone, and is never queued:
    // a payload over the limit, a target or collapse key that is not text.
    if (len > c->max_payload)
        return HF_ERR_PAYLOAD_TOO_LARGE;
    if (!hf_utf8_valid(to) || (collapse && !hf_utf8_valid(collapse)))
        return HF_ERR_BAD_TARGET;
    uint64_t msg_id = c->next_id++;
    outgoing &o = c->unacked[msg_id];
    o.to = to;
    o.payload.assign(static_cast<const char *>(payload), len);
    o.ttl_s = ttl_s;
    o.collapse = collapse ? collapse : "";
    if (id)
        *id = msg_id;
    if (c->state == HF_CLIENT_CONNECTED)
        send_message(c, msg_id, o);
    return 0;
}

namespace
{

// Sequence numbers belong to the server that delivered them: inside
// on_message the answer goes back on that link; later, to the server being
// left during a move, or to the current server for what it delivered.
// Null: anything else, dropped (the message comes again: at least once).
hf_link *link_of_seq(hf_client *c, uint64_t seq)
{
    hf_link *target = c->delivering_link;
    if (!target && c->old_link)
        target = c->old_link;
    else if (!target && c->state == HF_CLIENT_CONNECTED && seq <= c->link_max_seq)
        target = c->link;
    return target;
}

} // namespace

int hf_client_ack(hf_client *c, uint64_t seq)
{
    hf_link *target = link_of_seq(c, seq);
    if (!target) {
        // A seq of a connection just lost: what the application handled
        // is remembered, so the next server's copies are not shown.
        if (c->state != HF_CLIENT_CONNECTED)
            hf_deliveries_acked(&c->acked, &c->deliveries, seq);
        return -1;
    }
    hf_link_deliveries *pending = target == c->old_link ? &c->old_deliveries : &c->deliveries;
    return send_deliver_ack(target, hf_deliveries_acked(&c->acked, pending, seq)) ? 0 : -1;
}

int hf_client_refuse(hf_client *c, uint64_t seq, int code, const char *text)
{
    hf_link *target = code != 0 && seq > 0 ? link_of_seq(c, seq) : nullptr;
    if (!target)
        return -1;
    hf_link_deliveries *pending = target == c->old_link ? &c->old_deliveries : &c->deliveries;
    // Those before it are acknowledged (and remembered); it is not: should
    // the refusal be lost with the link, it comes again to be refused again.
    if (seq > 1)
        hf_deliveries_acked(&c->acked, pending, seq - 1);
    pending->by_seq.erase(seq);
    return send_deliver_refusal(target, seq, code, text ? text : "") ? 0 : -1;
}

int hf_client_ping(hf_client *c)
{
    if (c->state != HF_CLIENT_CONNECTED)
        return -1;
    c->user_ping_id = c->next_ping_id++;
    c->user_ping_sent_us = hf_mono_us();
    send_ping(c, c->user_ping_id);
    return 0;
}

int hf_client_last_error(const hf_client *c, const char **text)
{
    if (text)
        *text = c->last_error_text.c_str();
    return c->last_error;
}

int hf_client_error_permanent(int code)
{
    switch (code) {
    case HF_CLIENT_ERR_CERTIFICATE:
    case HF_CLIENT_ERR_NAME_MISMATCH:
    case HF_ERR_BAD_TOKEN:
    case HF_ERR_TOKEN_EXPIRED:
    case HF_ERR_UNKNOWN_KEY:
    case HF_ERR_REVOKED:
    case HF_ERR_UNSUPPORTED_VERSION:
        return 1;
    default:
        return 0;
    }
}

const char *hf_client_error_name(int code)
{
    static const char *const names[] = {"certificate", "name_mismatch", "refused", "unreachable", "timed_out",
                                        "reset",       "closed",        "tls",     "bad_frame",   "other",
                                        "key_changed", "no_keys",       "key_file"};
    if (code >= HF_CLIENT_ERR_CERTIFICATE && code <= HF_CLIENT_ERR_KEY_FILE)
        return names[code - HF_CLIENT_ERR_CERTIFICATE];
    return hf_err_name(code);
}

int hf_client_presence(hf_client *c, int follow, hf_client_presence_cb cb)
{
    if (c->state != HF_CLIENT_CONNECTED || !(c->server_features & HF_FEATURE_PRESENCE))
        return -1;
    c->presence_cb = cb;
    c->presence_follow = follow != 0;
    send_presence_req(c, true);
    return 0;
}

int hf_client_subscribe(hf_client *c, const char *app, const uint8_t *vapid_key, size_t vapid_key_len, int remove,
                        hf_client_subscription_cb cb)
{
    if (c->state != HF_CLIENT_CONNECTED || !(c->server_features & HF_FEATURE_PUSH) || c->subscription_cb || !cb)
        return -1;
    c->subscription_cb = cb;
    send_subscribe(c, app, vapid_key, vapid_key_len, remove != 0);
    return 0;
}

int hf_client_wake_route(hf_client *c, const char *route, const char *drop_provider, hf_client_wake_cb cb)
{
    if (c->state != HF_CLIENT_CONNECTED || !(c->server_features & HF_FEATURE_WAKE) || c->wake_cb || !cb)
        return -1;
    c->wake_cb = cb;
    send_wake(c, route, drop_provider);
    return 0;
}

int hf_client_set_device_key(hf_client *c, const uint8_t *key, size_t len)
{
    if (len != HF_DEVICE_KEYS_LEN)
        return -1;
    c->device_key.assign(reinterpret_cast<const char *>(key), len);
    return 0;
}

int hf_client_device_key(const hf_client *c, const char *device, uint8_t out[HF_DEVICE_KEYS_LEN])
{
    auto found = c->peer_keys.find(device);
    if (found == c->peer_keys.end() || found->second.size() != HF_DEVICE_KEYS_LEN)
        return -1;
    memcpy(out, found->second.data(), HF_DEVICE_KEYS_LEN);
    return 0;
}

const char *hf_client_device(const hf_client *c)
{
    return c->device_name.c_str();
}

int hf_push_keys_new(uint8_t private_key[HF_PUSH_PRIVATE_KEY_LEN], uint8_t public_key[HF_PUSH_PUBLIC_KEY_LEN],
                     uint8_t auth[HF_PUSH_AUTH_LEN])
{
    hf_ece_keys keys;
    if (!hf_ece_keys_new(&keys) || RAND_bytes(auth, HF_PUSH_AUTH_LEN) != 1)
        return -1;
    memcpy(private_key, keys.private_key.data(), HF_PUSH_PRIVATE_KEY_LEN);
    memcpy(public_key, keys.public_key.data(), HF_PUSH_PUBLIC_KEY_LEN);
    return 0;
}

int hf_push_decrypt(const uint8_t private_key[HF_PUSH_PRIVATE_KEY_LEN],
                    const uint8_t public_key[HF_PUSH_PUBLIC_KEY_LEN], const uint8_t auth[HF_PUSH_AUTH_LEN],
                    const uint8_t *body, size_t body_len, uint8_t **plaintext, size_t *plaintext_len, const char **why)
{
    hf_ece_keys keys{std::string(reinterpret_cast<const char *>(private_key), HF_PUSH_PRIVATE_KEY_LEN),
                     std::string(reinterpret_cast<const char *>(public_key), HF_PUSH_PUBLIC_KEY_LEN)};
    std::string out;
    const char *reason = nullptr;
    if (!hf_ece_decrypt(keys, std::string_view(reinterpret_cast<const char *>(auth), HF_PUSH_AUTH_LEN),
                        std::string_view(reinterpret_cast<const char *>(body), body_len), &out, &reason)) {
        if (why)
            *why = reason;
        return -1;
    }
    *plaintext = static_cast<uint8_t *>(malloc(out.size() + 1));
    if (!*plaintext)
        return -1;
    memcpy(*plaintext, out.data(), out.size());
    (*plaintext)[out.size()] = 0;
    *plaintext_len = out.size();
    return 0;
}

void hf_client_stop(hf_client *c)
{
    drop_link(c);
    drop_old_link(c);
    set_state(c, HF_CLIENT_STOPPED, "stopped by the application");
}

void hf_client_free(hf_client *c)
{
    if (!c)
        return;
    hf_link_free(c->link);
    hf_link_free(c->old_link);
    event_free(c->step_timer);
    event_free(c->ping_timer);
    SSL_SESSION_free(c->tls_session);
    SSL_CTX_free(c->tls);
    delete c;
}

int hf_client_get_state(const hf_client *c)
{
    return c->state;
}

size_t hf_client_unacked(const hf_client *c)
{
    return c->unacked.size();
}

} // extern "C"
