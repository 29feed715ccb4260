#include "client/frames.h"

#include <algorithm>

#include "client/e2e.h"
#include "client/events.h"
#include "client/failover.h"
#include "proto/build.h"
#include "proto/clock.h"

namespace hf_clientlib
{

void send_message(hf_client *c, uint64_t id, outgoing &o)
{
    o.sent = true;
    hf_msg m = hf_msg_send(o.to, id, o.payload, o.ttl_s, o.collapse);
    send_frame(c, &m);
}

void fail_message(hf_client *c, uint64_t id, int code, const char *text)
{
    c->unacked.erase(id);
    message_answered(c, id, HF_SEND_REJECTED, code, text);
}

void send_ping(hf_client *c, uint64_t id)
{
    hf_msg m = hf_msg_ping(id);
    send_frame(c, &m);
}

void on_link_open(void *arg, hf_link *)
{
    auto *c = static_cast<hf_client *>(arg);
    uint64_t ask = c->probe.current_ms ? c->probe.current_ms : c->heartbeat_ms;
    hf_msg m = c->role == link_role::allocator ? hf_msg_alloc_req(c->token) : hf_msg_hello(c->token, ask);
    if (c->role != link_role::allocator && !c->device_key.empty())
        hf_msg_add_device_key(&m, c->device_key);
    send_frame(c, &m);
}

// The allocator's backoff hints, from its answer or its refusal.
void take_backoff_hints(hf_client *c, const hf_msg *m)
{
    if (hf_msg_has(m, HF_TAG_BACKOFF_BASE_MS) && m->backoff_base_ms > 0)
        c->backoff_base_ms = uint32_t(m->backoff_base_ms);
    if (hf_msg_has(m, HF_TAG_BACKOFF_CAP_MS) && m->backoff_cap_ms >= c->backoff_base_ms)
        c->backoff_cap_ms = uint32_t(m->backoff_cap_ms);
}

void on_alloc_resp(hf_client *c, const hf_msg *m)
{
    c->addresses.assign(m->addresses, m->addresses + m->address_count);
    c->address_index = 0;
    c->addresses_fresh = true;
    c->permanent_error = 0; // an allocator that answered is reachable and trusted
    take_backoff_hints(c, m);
    std::string list;
    for (const std::string &a : c->addresses)
        list += (list.empty() ? "" : ", ") + a;
    trace(c, "allocator %s answered: %s", c->link_address.c_str(), list.c_str());
    connect_next_server(c);
}

void on_welcome(hf_client *c, const hf_msg *m)
{
    event_del(c->step_timer);
    if (c->old_link) {
        trace(c, "moved: letting go of the server that sent GOAWAY");
        drop_old_link(c);
    }
    c->link_max_seq = 0;
    c->deliveries.by_seq.clear(); // seqs are the new server's from now on
    c->presence_askers.clear();   // and answers: none asked before comes on this link
    if (hf_msg_has(m, HF_TAG_DEVICE))
        c->device_name = std::string(m->device);
    c->granted_heartbeat_ms = m->heartbeat_ms ? m->heartbeat_ms : 30000;
    c->max_frame = m->max_frame ? size_t(m->max_frame) : default_max_frame;
    c->backoff_attempt = 0;
    c->allocators_tried = 0;
    c->addresses_fresh = false;
    c->server_features = hf_msg_has(m, HF_TAG_FEATURES) ? m->features : 0; // before on_state hears CONNECTED
    c->max_payload = hf_msg_has(m, HF_TAG_MAX_PAYLOAD)   ? size_t(m->max_payload)
                     : c->max_frame > HF_DELIVER_RESERVE ? c->max_frame - HF_DELIVER_RESERVE
                                                         : 0;
    c->permanent_error = 0;
    // Following presence: asked again on every new server, before on_state
    // (which may ask itself) hears of it.
    if (c->presence_follow && (c->server_features & HF_FEATURE_PRESENCE))
        send_presence_req(c, true);
    char detail[300];
    snprintf(detail, sizeof detail, "connected to %s, heartbeat %llu ms", c->link_address.c_str(),
             (unsigned long long)c->granted_heartbeat_ms);
    set_state(c, HF_CLIENT_CONNECTED, detail);
    arm(c->ping_timer, c->granted_heartbeat_ms);
    c->probing = hf_msg_has(m, HF_TAG_HEARTBEAT_MIN_MS) && hf_msg_has(m, HF_TAG_HEARTBEAT_MAX_MS) &&
                 m->heartbeat_min_ms < m->heartbeat_max_ms;
    if (c->probing) {
        hf_hb_probe_start(&c->probe, m->heartbeat_min_ms, m->heartbeat_max_ms, c->granted_heartbeat_ms);
        trace(c, "adaptive heartbeat: probing within %llu..%llu ms from %llu ms",
              (unsigned long long)m->heartbeat_min_ms, (unsigned long long)m->heartbeat_max_ms,
              (unsigned long long)c->granted_heartbeat_ms);
    }
    size_t resends = 0;
    for (const auto &entry : c->unacked)
        resends += entry.second.sent;
    if (resends)
        trace(c, "resending %zu unacknowledged message(s) with their ids", resends);
    // A message this server will not take, however often it is sent,
    // fails alone; the others go (again).
    for (auto it = c->unacked.begin(); it != c->unacked.end();) {
        auto entry = it++;
        if (entry->second.payload.size() > c->max_payload)
            fail_message(c, entry->first, HF_ERR_PAYLOAD_TOO_LARGE, "payload over the server's max_payload");
        else
            send_message(c, entry->first, entry->second);
    }
    e2e_connected(c);
}

// An answer's devices and end, or (none asked) a followed change; each
// to whoever asked: the application, or the key file (e2e.cc).
void on_presence(hf_client *c, const hf_msg *m)
{
    bool answer = !c->presence_askers.empty();
    bool for_application = !answer || c->presence_askers.front();
    if (hf_msg_has(m, HF_TAG_DEVICE)) {
        std::string device(m->device);
        // A peer's published keys, for hf_client_device_key; an answer
        // without them says it has none (any more: revoked).
        if (hf_msg_has(m, HF_TAG_DEVICE_KEY))
            c->peer_keys[device] = std::string(m->device_key);
        else if (answer)
            c->peer_keys.erase(device);
        if (!for_application)
            c->account_devices.push_back(device);
        else if (c->presence_cb)
            c->presence_cb(c->user, device.c_str(), m->online ? 1 : 0, 0);
        return;
    }
    if (answer)
        c->presence_askers.pop_front();
    if (!for_application)
        e2e_keys_read(c);
    else if (c->presence_cb)
        c->presence_cb(c->user, nullptr, 0, 1);
}

void on_subscription(hf_client *c, const hf_msg *m)
{
    hf_client_subscription_cb cb = c->subscription_cb;
    if (!cb || m->id != c->subscribe_id)
        return;
    std::string app(m->app), endpoint(m->endpoint), text(m->text);
    const auto *key = reinterpret_cast<const uint8_t *>(m->vapid_key.data());
    bool keeps_keys = c->keys && !c->subscribe_app.empty();
    if (hf_msg_has(m, HF_TAG_ENDPOINT)) {
        if (keeps_keys && !c->subscribe_remove && app == c->subscribe_app)
            keys_subscribed(c, app, endpoint);
        cb(c->user, app.c_str(), endpoint.c_str(), m->vapid_key.empty() ? nullptr : key, m->vapid_key.size(), 0, 0,
           nullptr);
        return;
    }
    if (keeps_keys && m->code == 0)
        keys_subscription_done(c, c->subscribe_app, c->subscribe_remove);
    c->subscription_cb = nullptr;
    c->subscribe_id = 0;
    c->subscribe_link = nullptr;
    cb(c->user, nullptr, nullptr, nullptr, 0, 1, int(m->code), hf_msg_has(m, HF_TAG_TEXT) ? text.c_str() : nullptr);
}

void on_wake_ack(hf_client *c, const hf_msg *m)
{
    hf_client_wake_cb cb = c->wake_cb;
    if (!cb || m->id != c->wake_id)
        return;
    c->wake_cb = nullptr;
    c->wake_link = nullptr;
    std::string text(m->text), key(m->vapid_key);
    cb(c->user, int(m->code), hf_msg_has(m, HF_TAG_TEXT) ? text.c_str() : nullptr,
       key.empty() ? nullptr : reinterpret_cast<const uint8_t *>(key.data()), key.size());
}

void send_wake(hf_client *c, const char *route, const char *drop_provider)
{
    c->wake_id = c->next_ping_id++;
    c->wake_link = c->link;
    hf_msg m = hf_msg_wake(c->wake_id, route ? route : "", drop_provider ? drop_provider : "");
    hf_link_send(c->link, &m);
}

void send_subscribe(hf_client *c, const char *app, const uint8_t *vapid_key, size_t vapid_key_len, bool remove)
{
    c->subscribe_id = c->next_ping_id++;
    c->subscribe_link = c->link;
    c->subscribe_app = app ? app : "";
    c->subscribe_remove = remove;
    hf_msg m = hf_msg_subscribe(
        c->subscribe_id, app ? app : "",
        std::string_view(reinterpret_cast<const char *>(vapid_key), vapid_key ? vapid_key_len : 0), remove);
    hf_link_send(c->link, &m);
}

// Token problems do not heal by retrying: stop and say so.
void on_error_frame(hf_client *c, const hf_msg *m)
{
    char detail[400];
    snprintf(detail, sizeof detail, "refused: %s: %.*s", hf_err_name(int(m->code)), int(m->text.size()),
             m->text.data());
    int code = int(m->code);
    if (hf_msg_has(m, HF_TAG_RETRY_MS))
        c->retry_floor_ms = std::max(c->retry_floor_ms, m->retry_ms);
    if (hf_client_error_permanent(code)) {
        c->last_error = code;
        c->last_error_text =
            std::string(c->role == link_role::allocator ? "allocator " : "server ") + c->link_address + " " + detail;
        drop_link(c);
        set_state(c, HF_CLIENT_STOPPED, c->last_error_text.c_str());
        return;
    }
    link_failed(c, code, detail);
}

void on_send_ack(hf_client *c, const hf_msg *m)
{
    auto it = c->unacked.find(m->id);
    if (it == c->unacked.end())
        return; // an answer to a resend already answered
    c->unacked.erase(it);
    std::string text(m->text);
    message_answered(c, m->id, int(m->status), int(m->code), text.c_str());
}

bool send_deliver_ack(hf_link *l, uint64_t upto)
{
    hf_msg m = hf_msg_deliver_ack(upto);
    return hf_link_send(l, &m);
}

bool send_deliver_refusal(hf_link *l, uint64_t seq, int code, std::string_view text)
{
    hf_msg m = hf_msg_deliver_refusal(seq, code, text);
    return hf_link_send(l, &m);
}

void on_deliver(hf_client *c, hf_link *from_link, const hf_msg *m)
{
    std::string from(m->from);
    hf_link_deliveries *pending = from_link == c->old_link ? &c->old_deliveries : &c->deliveries;
    uint64_t ack_upto;
    if (hf_deliveries_arrived(&c->acked, pending, from.c_str(), m->id, m->seq, &ack_upto)) {
        trace(c, "message %llu from %s again (seq %llu): acknowledged before, not shown", (unsigned long long)m->id,
              from.c_str(), (unsigned long long)m->seq);
        if (ack_upto)
            send_deliver_ack(from_link, ack_upto);
        return;
    }
    std::string app(m->app);
    hf_client_message msg{from.c_str(),
                          m->seq,
                          m->id,
                          reinterpret_cast<const uint8_t *>(m->payload.data()),
                          m->payload.size(),
                          m->stored_at_ms,
                          hf_msg_has(m, HF_TAG_APP) ? app.c_str() : nullptr,
                          hf_msg_has(m, HF_TAG_URGENCY) ? int(m->urgency) : HF_URGENCY_NORMAL,
                          m->e2e ? 1 : 0,
                          0};
    c->delivering_link = from_link;
    if (c->keys)
        e2e_arrived(c, from_link, &msg);
    else if (c->cb.on_message)
        c->cb.on_message(c->user, &msg);
    c->delivering_link = nullptr;
}

// The server is going away: connect to the next server first, and let go
// of this one only once the next one has said WELCOME.
void on_goaway(hf_client *c, const hf_msg *m)
{
    std::string why = "GOAWAY from " + c->link_address + ": " + std::string(m->text);
    // The list from the allocator is ranked for this account, so its next
    // entry is where the account's other devices go too; the addresses the
    // server knows come after it.
    for (size_t i = 0; i < m->address_count; i++) {
        std::string a(m->addresses[i]);
        bool known = false;
        for (const std::string &have : c->addresses)
            known = known || have == a;
        if (!known)
            c->addresses.push_back(a);
    }
    trace(c, "%s", why.c_str());
    drop_old_link(c);
    c->old_link = c->link;
    c->old_deliveries = std::move(c->deliveries);
    c->deliveries.by_seq.clear();
    c->link = nullptr;
    c->role = link_role::none;
    connect_next_server(c);
}

// Frames from the server we are leaving: answers and messages still count.
void on_old_link_frame(hf_client *c, const hf_msg *m)
{
    if (m->type == HF_MSG_SEND_ACK)
        on_send_ack(c, m);
    else if (m->type == HF_MSG_DELIVER)
        on_deliver(c, c->old_link, m);
    else if (m->type == HF_MSG_SUBSCRIPTION)
        on_subscription(c, m);
    else if (m->type == HF_MSG_WAKE_ACK)
        on_wake_ack(c, m);
    else if (m->type == HF_MSG_ERROR)
        drop_old_link(c);
}

void send_heartbeat_ping(hf_client *c, uint64_t ask_ms)
{
    c->heartbeat_ping_id = c->next_ping_id++;
    c->ping_asks_interval = ask_ms != 0;
    hf_msg m = hf_msg_ping(c->heartbeat_ping_id);
    if (ask_ms)
        hf_msg_add_heartbeat(&m, ask_ms);
    send_frame(c, &m);
    uint64_t wait = c->ping_timeout_ms < c->granted_heartbeat_ms ? c->ping_timeout_ms : c->granted_heartbeat_ms;
    arm(c->step_timer, wait);
}

void on_heartbeat_pong(hf_client *c, const hf_msg *m)
{
    c->heartbeat_ping_id = 0;
    event_del(c->step_timer);
    if (c->ping_asks_interval) {
        // The answer to a new interval: it starts now.
        if (hf_msg_has(m, HF_TAG_HEARTBEAT_MS) && m->heartbeat_ms) {
            c->granted_heartbeat_ms = m->heartbeat_ms;
            hf_hb_probe_granted(&c->probe, m->heartbeat_ms);
            trace(c, "adaptive heartbeat: now %llu ms", (unsigned long long)m->heartbeat_ms);
        }
        arm(c->ping_timer, c->granted_heartbeat_ms);
        return;
    }
    if (!c->probing)
        return;
    // A PONG after a full idle interval: the path kept the connection.
    uint64_t next = hf_hb_probe_success(&c->probe, hf_mono_ms());
    if (next != c->granted_heartbeat_ms)
        send_heartbeat_ping(c, next);
}

void on_server_frame(hf_client *c, const hf_msg *m)
{
    switch (m->type) {
    case HF_MSG_WELCOME:
        on_welcome(c, m);
        break;
    case HF_MSG_PONG:
        if (hf_msg_has(m, HF_TAG_ID) && m->id == c->heartbeat_ping_id)
            on_heartbeat_pong(c, m);
        if (hf_msg_has(m, HF_TAG_ID) && m->id == c->user_ping_id) {
            c->user_ping_id = 0;
            if (c->cb.on_pong)
                c->cb.on_pong(c->user, hf_mono_us() - c->user_ping_sent_us);
        }
        break;
    case HF_MSG_SEND_ACK:
        on_send_ack(c, m);
        break;
    case HF_MSG_DELIVER:
        c->link_max_seq = m->seq;
        on_deliver(c, c->link, m);
        break;
    case HF_MSG_GOAWAY:
        on_goaway(c, m);
        break;
    case HF_MSG_ERROR:
        on_error_frame(c, m);
        break;
    case HF_MSG_PRESENCE:
        on_presence(c, m);
        break;
    case HF_MSG_SUBSCRIPTION:
        on_subscription(c, m);
        break;
    case HF_MSG_WAKE_ACK:
        on_wake_ack(c, m);
        break;
    default:
        link_failed(c, HF_CLIENT_ERR_BAD_FRAME, "unexpected frame from the server");
        break;
    }
}

void on_link_frame(void *arg, hf_link *l, const hf_msg *m)
{
    auto *c = static_cast<hf_client *>(arg);
    if (l == c->old_link) {
        on_old_link_frame(c, m);
        return;
    }
    if (c->role == link_role::server) {
        on_server_frame(c, m);
        return;
    }
    if (m->type == HF_MSG_ALLOC_RESP) {
        on_alloc_resp(c, m);
    } else if (m->type == HF_MSG_ERROR) {
        take_backoff_hints(c, m);
        on_error_frame(c, m);
    } else
        link_failed(c, HF_CLIENT_ERR_BAD_FRAME, "unexpected frame from the allocator");
}

void on_link_close(void *arg, hf_link *l, hf_link_failure failure, const char *why)
{
    auto *c = static_cast<hf_client *>(arg);
    if (l == c->old_link) {
        drop_old_link(c);
        return;
    }
    // An allocator closes after its answer; that is not a failure.
    if (c->role == link_role::none)
        return;
    link_failed(c, error_of(failure), why);
}

void on_ping_timer(evutil_socket_t, short, void *arg)
{
    auto *c = static_cast<hf_client *>(arg);
    if (c->state != HF_CLIENT_CONNECTED)
        return;
    if (!c->heartbeat_ping_id)
        send_heartbeat_ping(c, 0);
    arm(c->ping_timer, c->granted_heartbeat_ms);
}

const hf_link_callbacks link_callbacks = {on_link_open, on_link_frame, on_link_close};

} // namespace hf_clientlib
