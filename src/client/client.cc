// libhandoff's device state machine; see include/handoff/client.h.
#include "handoff/client.h"

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/deliveries.h"
#include "client/hb_probe.h"
#include "net/link.h"
#include "proto/build.h"
#include "proto/clock.h"

namespace
{

const uint32_t default_connect_timeout_ms = 5000;
const uint32_t default_ping_timeout_ms = 10000;
const uint32_t default_backoff_base_ms = 500;
const uint32_t default_backoff_cap_ms = 30000;
// Until WELCOME says otherwise, accept frames this large.
const size_t default_max_frame = HF_DEFAULT_MAX_FRAME;

struct outgoing {
    std::string to;
    std::string payload;
    uint32_t ttl_s;
    std::string collapse;
    bool sent = false; // written to some server before
};

enum class link_role { none, allocator, server };

} // namespace

struct hf_client {
    event_base *base;
    hf_client_callbacks cb;
    void *user;
    std::vector<std::string> allocators;
    std::string token;
    uint32_t heartbeat_ms, connect_timeout_ms, ping_timeout_ms;
    uint32_t backoff_base_ms, backoff_cap_ms;
    SSL_CTX *tls = nullptr;

    int state = HF_CLIENT_IDLE;
    hf_link *link = nullptr;
    link_role role = link_role::none;
    uint64_t link_max_seq = 0; // highest DELIVER seq on this link
    // A server that sent GOAWAY, kept until the next one says WELCOME
    // (make before break): its last SEND_ACKs and DELIVERs still count.
    hf_link *old_link = nullptr;
    hf_link *delivering_link = nullptr; // during on_message: acks go back on it
    // DELIVERs not yet acknowledged by the application: the current (or
    // last) server link's and the old link's; and the keys of those it
    // acknowledged, so that copies are not shown again.
    hf_link_deliveries deliveries, old_deliveries;
    hf_acked_ids acked;
    std::string link_address;
    event *step_timer = nullptr; // attempt deadline, backoff delay, pong deadline
    event *ping_timer = nullptr;

    size_t allocator_index = 0;
    size_t allocators_tried = 0; // in this round
    std::vector<std::string> addresses;
    size_t address_index = 0;
    uint32_t backoff_attempt = 0;

    uint64_t granted_heartbeat_ms = 0;
    size_t max_frame = default_max_frame;
    std::string server_name; // the name certificates must carry; empty: each address's host
    // The latest TLS session ticket, offered on the next connection: a
    // resumed handshake skips the certificate (less CPU, a mobile
    // device's battery included).
    SSL_SESSION *tls_session = nullptr;
    uint64_t next_id;
    std::map<uint64_t, outgoing> unacked; // by id: resent in this order
    uint64_t next_ping_id = 1;
    uint64_t heartbeat_ping_id = 0;  // outstanding heartbeat ping, 0 if none
    bool ping_asks_interval = false; // that ping asks for a new interval
    // Adaptive heartbeat: active when WELCOME gives a range to probe; what
    // it learnt survives reconnects.
    hf_hb_probe probe;
    bool probing = false;
    uint64_t user_ping_id = 0;
    uint64_t user_ping_sent_us = 0;
};

namespace
{

void trace(hf_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void trace(hf_client *c, const char *fmt, ...)
{
    if (!c->cb.on_trace)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->cb.on_trace(c->user, line);
}

uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char *>(&v), sizeof v) != 1)
        v = hf_mono_us() ^ (uint64_t(getpid()) << 32);
    return v;
}

void set_state(hf_client *c, int state, const char *detail)
{
    if (c->state == state && state != HF_CLIENT_CONNECTING && state != HF_CLIENT_ALLOCATING)
        return;
    c->state = state;
    trace(c, "state %s: %s", hf_client_state_name(state), detail);
    if (c->cb.on_state)
        c->cb.on_state(c->user, state, detail);
}

void arm(event *ev, uint64_t ms)
{
    timeval tv = hf_timeval_ms(ms);
    event_add(ev, &tv);
}

void drop_link(hf_client *c)
{
    hf_link_free(c->link);
    c->link = nullptr;
    c->role = link_role::none;
    event_del(c->step_timer);
    event_del(c->ping_timer);
    c->heartbeat_ping_id = 0;
    c->user_ping_id = 0;
}

void drop_old_link(hf_client *c)
{
    if (!c->old_link)
        return;
    hf_link_free(c->old_link);
    c->old_link = nullptr;
    c->old_deliveries.by_seq.clear();
}

void allocate(hf_client *c);
void connect_next_server(hf_client *c);
void on_link_open(void *arg, hf_link *l);
void on_link_frame(void *arg, hf_link *l, const hf_msg *m);
void on_link_close(void *arg, hf_link *l, const char *why);

const hf_link_callbacks link_callbacks = {on_link_open, on_link_frame, on_link_close};

bool open_link(hf_client *c, const std::string &address, link_role role)
{
    std::string err;
    c->link_address = address;
    c->role = role;
    hf_link_target target;
    target.address = address;
    target.server_name = c->server_name.c_str();
    target.session = &c->tls_session;
    c->link = hf_link_open(c->base, c->tls, &target, c->max_frame, &link_callbacks, c, &err);
    if (!c->link) {
        trace(c, "%s: %s", address.c_str(), err.c_str());
        c->role = link_role::none;
        return false;
    }
    arm(c->step_timer, c->connect_timeout_ms);
    return true;
}

// Everything failed this round: wait, then ask the allocators again.
void back_off(hf_client *c, const char *why)
{
    drop_link(c);
    drop_old_link(c);
    uint64_t ceiling = c->backoff_base_ms;
    for (uint32_t i = 0; i < c->backoff_attempt && ceiling < c->backoff_cap_ms; i++)
        ceiling *= 2;
    if (ceiling > c->backoff_cap_ms)
        ceiling = c->backoff_cap_ms;
    // Full jitter: a fleet that lost one server does not come back at once.
    uint64_t delay = random_u64() % (ceiling + 1);
    c->backoff_attempt++;
    char detail[300];
    snprintf(detail, sizeof detail, "%s; asking the allocators again in %llu ms (attempt %u)", why,
             (unsigned long long)delay, c->backoff_attempt);
    set_state(c, HF_CLIENT_BACKING_OFF, detail);
    c->allocators_tried = 0;
    arm(c->step_timer, delay);
}

void allocate(hf_client *c)
{
    drop_link(c);
    while (c->allocators_tried < c->allocators.size()) {
        const std::string &address = c->allocators[c->allocator_index];
        c->allocator_index = (c->allocator_index + 1) % c->allocators.size();
        c->allocators_tried++;
        std::string detail = "asking allocator " + address;
        set_state(c, HF_CLIENT_ALLOCATING, detail.c_str());
        if (open_link(c, address, link_role::allocator))
            return;
    }
    back_off(c, "no allocator answered");
}

void connect_next_server(hf_client *c)
{
    drop_link(c);
    while (c->address_index < c->addresses.size()) {
        const std::string &address = c->addresses[c->address_index];
        char detail[300];
        snprintf(detail, sizeof detail, "trying server %s (%zu of %zu)", address.c_str(), c->address_index + 1,
                 c->addresses.size());
        c->address_index++;
        set_state(c, HF_CLIENT_CONNECTING, detail);
        if (open_link(c, address, link_role::server))
            return;
    }
    back_off(c, "no server on the list accepted the connection");
}

// A link failed: an allocator's -> the next allocator; a server's -> the
// next server on the list (claims 4-6 of the design).
void link_failed(hf_client *c, const char *why)
{
    trace(c, "%s %s failed: %s", c->role == link_role::allocator ? "allocator" : "server", c->link_address.c_str(),
          why);
    if (c->role == link_role::allocator)
        allocate(c);
    else
        connect_next_server(c);
}

void send_frame(hf_client *c, const hf_msg *m)
{
    if (c->link && !hf_link_send(c->link, m))
        trace(c, "write to %s failed", c->link_address.c_str());
}

void send_message(hf_client *c, uint64_t id, outgoing &o)
{
    o.sent = true;
    hf_msg m = hf_msg_send(o.to, id, o.payload, o.ttl_s, o.collapse);
    send_frame(c, &m);
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
    c->granted_heartbeat_ms = m->heartbeat_ms ? m->heartbeat_ms : 30000;
    c->max_frame = m->max_frame ? size_t(m->max_frame) : default_max_frame;
    c->backoff_attempt = 0;
    c->allocators_tried = 0;
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
    for (auto &entry : c->unacked)
        send_message(c, entry.first, entry.second);
}

// Token problems do not heal by retrying: stop and say so.
bool refused_for_good(uint64_t code)
{
    return code == HF_ERR_BAD_TOKEN || code == HF_ERR_TOKEN_EXPIRED || code == HF_ERR_UNKNOWN_KEY ||
           code == HF_ERR_UNSUPPORTED_VERSION;
}

void on_error_frame(hf_client *c, const hf_msg *m)
{
    char detail[400];
    snprintf(detail, sizeof detail, "%s %s refused: %s: %.*s", c->role == link_role::allocator ? "allocator" : "server",
             c->link_address.c_str(), hf_err_name(int(m->code)), int(m->text.size()), m->text.data());
    if (refused_for_good(m->code)) {
        drop_link(c);
        set_state(c, HF_CLIENT_STOPPED, detail);
        return;
    }
    link_failed(c, detail);
}

void on_send_ack(hf_client *c, const hf_msg *m)
{
    auto it = c->unacked.find(m->id);
    if (it == c->unacked.end())
        return; // an answer to a resend already answered
    c->unacked.erase(it);
    std::string text(m->text);
    if (c->cb.on_send_result)
        c->cb.on_send_result(c->user, m->id, int(m->status), int(m->code), text.c_str());
}

bool send_deliver_ack(hf_link *l, uint64_t upto)
{
    hf_msg m = hf_msg_deliver_ack(upto);
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
    hf_client_message msg{
        from.c_str(),      m->seq,         m->id, reinterpret_cast<const uint8_t *>(m->payload.data()),
        m->payload.size(), m->stored_at_ms};
    c->delivering_link = from_link;
    if (c->cb.on_message)
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
    default:
        link_failed(c, "unexpected frame from the server");
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
        link_failed(c, "unexpected frame from the allocator");
}

void on_link_close(void *arg, hf_link *l, const char *why)
{
    auto *c = static_cast<hf_client *>(arg);
    if (l == c->old_link) {
        drop_old_link(c);
        return;
    }
    // An allocator closes after its answer; that is not a failure.
    if (c->role == link_role::none)
        return;
    link_failed(c, why);
}

void on_step_timer(evutil_socket_t, short, void *arg)
{
    auto *c = static_cast<hf_client *>(arg);
    switch (c->state) {
    case HF_CLIENT_BACKING_OFF:
        allocate(c);
        break;
    case HF_CLIENT_ALLOCATING:
    case HF_CLIENT_CONNECTING:
        link_failed(c, "timed out");
        break;
    case HF_CLIENT_CONNECTED:
        if (c->probing) {
            uint64_t was = c->probe.current_ms;
            uint64_t now_ms = hf_hb_probe_failure(&c->probe, hf_mono_ms());
            trace(c, "adaptive heartbeat: no PONG at %llu ms; using %llu ms, pinned for %llu s",
                  (unsigned long long)was, (unsigned long long)now_ms, (unsigned long long)(c->probe.pin_ms / 1000));
        }
        link_failed(c, "ping unanswered within the ping timeout");
        break;
    default:
        break;
    }
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

} // namespace

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
    if (!to || !*to)
        return -1;
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

int hf_client_ack(hf_client *c, uint64_t seq)
{
    // Sequence numbers belong to the server that delivered them: inside
    // on_message the ack goes back on that link; later, to the server
    // being left during a move, or to the current server for what it
    // delivered. Anything else is dropped and the message comes again
    // (at-least-once).
    hf_link *target = c->delivering_link;
    if (!target && c->old_link)
        target = c->old_link;
    else if (!target && c->state == HF_CLIENT_CONNECTED && seq <= c->link_max_seq)
        target = c->link;
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

int hf_client_ping(hf_client *c)
{
    if (c->state != HF_CLIENT_CONNECTED)
        return -1;
    c->user_ping_id = c->next_ping_id++;
    c->user_ping_sent_us = hf_mono_us();
    send_ping(c, c->user_ping_id);
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
