#include "core/session.h"

#include "core/conn.h"
#include "core/log.h"
#include "core/route.h"
#include "core/tokens.h"
#include "proto/clock.h"

namespace
{

// Bytes one fetch may bring into memory beyond its first message.
const uint64_t fetch_max_bytes = 1 << 20;

size_t inflight_count(const hf_session *s)
{
    return s->inflight.size() - s->inflight_head;
}

void log_store_failure(void *what, int status)
{
    if (status != HF_STORE_OK)
        hf_log(HF_LOG_WARNING, "store: %s failed (status %d); check the store's health",
               static_cast<const char *>(what), status);
}

// Presence is refreshed periodically and only matters for shared stores:
// a failure is for the debug log (the store logs its outage itself).
void presence_done(void *, int status)
{
    if (status != HF_STORE_OK)
        hf_log(HF_LOG_DEBUG, "store: presence update failed (status %d)", status);
}

void send_welcome(hf_conn *c, hf_session *s, uint64_t timeout_ms)
{
    hf_daemon *d = c->d;
    hf_msg m;
    m.type = HF_MSG_WELCOME;
    m.version = HF_PROTOCOL_VERSION;
    m.heartbeat_ms = s->granted_ms;
    m.timeout_ms = timeout_ms;
    m.window = uint64_t(d->cfg.window);
    m.max_frame = uint64_t(d->cfg.max_frame);
    m.max_payload = m.max_frame - HF_DELIVER_RESERVE;
    m.server_id = d->cfg.server_id;
    m.account = s->account;
    m.device = s->device;
    for (unsigned tag : {HF_TAG_VERSION, HF_TAG_HEARTBEAT_MS, HF_TAG_TIMEOUT_MS, HF_TAG_WINDOW, HF_TAG_MAX_FRAME,
                         HF_TAG_MAX_PAYLOAD, HF_TAG_SERVER_ID, HF_TAG_ACCOUNT, HF_TAG_DEVICE})
        hf_msg_set(&m, tag);
    // An adaptive policy says how far the device may probe.
    if (d->heartbeat->bounds) {
        d->heartbeat->bounds(d->heartbeat_instance, &m.heartbeat_min_ms, &m.heartbeat_max_ms);
        hf_msg_set(&m, HF_TAG_HEARTBEAT_MIN_MS);
        hf_msg_set(&m, HF_TAG_HEARTBEAT_MAX_MS);
    }
    hf_conn_send(c, &m);
}

void on_hello(hf_conn *c, const hf_msg *m)
{
    hf_daemon *d = c->d;
    if (d->stopping) {
        hf_conn_fail(c, HF_ERR_SHUTTING_DOWN, "server is draining; connect to another");
        return;
    }
    hf_token_claims claims;
    int rc = hf_tokens_verify(d, m->token, &claims);
    if (rc != HF_OK) {
        d->stats.hello_refused++;
        hf_conn_fail(c, rc, std::string("token refused: ") + hf_err_text(rc));
        return;
    }
    if (!hf_msg_speaks_our_version(m)) {
        d->stats.hello_refused++;
        hf_conn_fail(c, HF_ERR_UNSUPPORTED_VERSION, "this server speaks protocol version 1 only");
        return;
    }
    uint64_t granted = 0, timeout = 0;
    d->heartbeat->negotiate(d->heartbeat_instance, hf_msg_has(m, HF_TAG_HEARTBEAT_MS) ? m->heartbeat_ms : 0, &granted,
                            &timeout);

    auto s = std::make_unique<hf_session>();
    s->conn = c;
    s->account = claims.account;
    s->device = claims.device;
    s->key = hf_device_key(s->account, s->device);
    s->granted_ms = granted;

    auto existing = d->online_devices.find(s->key);
    if (existing != d->online_devices.end()) {
        hf_conn_fail(existing->second->conn, HF_ERR_REPLACED, std::string("device connected again from ") + c->peer);
    } else if (d->online_per_account[s->account] >= uint64_t(d->cfg.max_devices_per_account)) {
        hf_limit_hit(d, hf_limit::devices_per_account, s->account.c_str());
        hf_conn_fail(c, HF_ERR_TOO_MANY_CONNECTIONS,
                     "account has limits.max_devices_per_account devices online already");
        return;
    }
    d->online_per_account[s->account]++;
    s->online = true;
    d->online_devices[s->key] = s.get();
    auto recent = d->recent_acks.find(s->key);
    if (recent != d->recent_acks.end()) {
        s->acked_upto = recent->second.first; // its queue's sequence goes on
        d->recent_acks.erase(recent);
    }
    hf_session *session = s.get();
    c->session = std::move(s);

    d->store->add_device(d->store_instance, session->account.c_str(), session->device.c_str(), log_store_failure,
                         const_cast<char *>("add_device"));
    d->store->presence_set(d->store_instance, session->account.c_str(), session->device.c_str(),
                           d->cfg.server_id.c_str(), uint64_t(d->cfg.presence_ttl_ms), presence_done, nullptr);
    hf_conn_set_ready(c, timeout);
    send_welcome(c, session, timeout);
    hf_log(HF_LOG_DEBUG, "conn %llu %s: %s/%s online, heartbeat %llums", (unsigned long long)c->id, c->peer,
           session->account.c_str(), session->device.c_str(), (unsigned long long)granted);
    hf_session_pump(session);
}

// Takes the seqs up to upto out of the window; returns how many.
size_t drop_inflight(hf_session *s, uint64_t upto)
{
    size_t dropped = 0;
    while (s->inflight_head < s->inflight.size() && s->inflight[s->inflight_head] <= upto) {
        s->inflight_head++;
        dropped++;
    }
    if (s->inflight_head == s->inflight.size()) {
        s->inflight.clear();
        s->inflight_head = 0;
    } else if (s->inflight_head > s->inflight.size() / 2) {
        s->inflight.erase(s->inflight.begin(), s->inflight.begin() + long(s->inflight_head));
        s->inflight_head = 0;
    }
    return dropped;
}

// A message this device cannot take, acknowledged on its behalf so that
// the rest of its queue flows: logged once, counted, gone from the store.
// Every older one is acknowledged already (seq is the oldest in flight),
// or the device's own acknowledgement passed it.
void set_aside(hf_session *s, uint64_t seq, const std::string &why)
{
    hf_daemon *d = s->conn->d;
    d->stats.messages_set_aside++;
    hf_log(HF_LOG_WARNING, "%s/%s: message seq %llu set aside (acknowledged for the device, not delivered): %s",
           s->account.c_str(), s->device.c_str(), (unsigned long long)seq, why.c_str());
    if (seq <= s->acked_upto)
        return;
    s->acked_upto = seq;
    d->store->ack(d->store_instance, s->account.c_str(), s->device.c_str(), seq, log_store_failure,
                  const_cast<char *>("ack"));
}

// Messages too large to send that are now the oldest in flight, or that
// an acknowledgement of later ones passed (and counted as delivered).
void settle_too_large(hf_session *s)
{
    while (!s->too_large.empty()) {
        auto [seq, bytes] = s->too_large.front();
        bool passed = seq <= s->acked_upto;
        if (!passed && (s->inflight_head == s->inflight.size() || s->inflight[s->inflight_head] != seq))
            break;
        s->too_large.erase(s->too_large.begin());
        if (passed)
            s->conn->d->stats.messages_delivered--;
        else
            drop_inflight(s, seq);
        set_aside(s, seq,
                  "its payload of " + std::to_string(bytes) + " bytes makes a DELIVER larger than limits.max_frame " +
                      std::to_string(s->conn->d->cfg.max_frame) + " (it was stored under a larger limit)");
    }
}

// The connection ended with seq the oldest unacknowledged: after
// delivery.max_attempts such ends in a row, the device cannot take it.
void count_failed_delivery(hf_session *s, uint64_t seq)
{
    hf_daemon *d = s->conn->d;
    hf_failed_delivery &f = d->failed_deliveries[s->key];
    if (f.seq != seq)
        f = hf_failed_delivery{seq, 0, 0};
    f.times++;
    f.last_ms = hf_mono_ms();
    if (f.times < uint64_t(d->cfg.max_attempts))
        return;
    d->failed_deliveries.erase(s->key);
    set_aside(s, seq,
              std::to_string(d->cfg.max_attempts) +
                  " connections in a row ended with it unacknowledged (delivery.max_attempts)");
}

void on_deliver_ack(hf_conn *c, const hf_msg *m)
{
    hf_session *s = c->session.get();
    hf_daemon *d = c->d;
    if (m->upto > s->last_sent_seq) {
        hf_conn_fail(c, HF_ERR_BAD_ACK,
                     "upto " + std::to_string(m->upto) + " is past the last delivered seq " +
                         std::to_string(s->last_sent_seq));
        return;
    }
    size_t acked = drop_inflight(s, m->upto);
    if (acked == 0)
        return; // a repeated acknowledgement: nothing new
    s->acked_upto = m->upto;
    d->stats.messages_delivered += acked;
    d->store->ack(d->store_instance, s->account.c_str(), s->device.c_str(), m->upto, log_store_failure,
                  const_cast<char *>("ack"));
    if (!d->failed_deliveries.empty()) {
        auto failed = d->failed_deliveries.find(s->key);
        if (failed != d->failed_deliveries.end() && failed->second.seq <= m->upto)
            d->failed_deliveries.erase(failed); // it got through after all
    }
    hf_route_acknowledged(s, m->upto);
    settle_too_large(s);
    hf_session_pump(s);
}

void on_ping(hf_conn *c, const hf_msg *m)
{
    hf_daemon *d = c->d;
    hf_msg pong;
    pong.type = HF_MSG_PONG;
    if (hf_msg_has(m, HF_TAG_ID)) {
        pong.id = m->id;
        hf_msg_set(&pong, HF_TAG_ID);
    }
    // A new interval from now on: granted by the policy, and the timeout
    // follows it at once.
    if (hf_msg_has(m, HF_TAG_HEARTBEAT_MS)) {
        d->heartbeat->negotiate(d->heartbeat_instance, m->heartbeat_ms, &pong.heartbeat_ms, &pong.timeout_ms);
        c->session->granted_ms = pong.heartbeat_ms;
        hf_conn_set_ready(c, pong.timeout_ms);
        hf_msg_set(&pong, HF_TAG_HEARTBEAT_MS);
        hf_msg_set(&pong, HF_TAG_TIMEOUT_MS);
        hf_log(HF_LOG_DEBUG, "%s/%s heartbeat now %llu ms", c->session->account.c_str(), c->session->device.c_str(),
               (unsigned long long)pong.heartbeat_ms);
    }
    hf_conn_send(c, &pong);
    if (d->heartbeat->on_ping)
        d->heartbeat->on_ping(d->heartbeat_instance, c->session->granted_ms);
}

// False, sending nothing, when the DELIVER would pass max_frame.
bool send_deliver(hf_conn *c, const hf_store_msg *sm)
{
    hf_msg m;
    m.type = HF_MSG_DELIVER;
    m.seq = sm->seq;
    m.from = sm->from;
    m.payload = std::string_view(reinterpret_cast<const char *>(sm->payload), sm->payload_len);
    m.stored_at_ms = sm->stored_at_ms;
    m.id = sm->msg_id;
    for (unsigned tag : {HF_TAG_SEQ, HF_TAG_FROM, HF_TAG_PAYLOAD, HF_TAG_STORED_AT_MS, HF_TAG_ID})
        hf_msg_set(&m, tag);
    if (sm->collapse_key) {
        m.collapse = sm->collapse_key;
        hf_msg_set(&m, HF_TAG_COLLAPSE);
    }
    uint64_t max_frame = uint64_t(c->d->cfg.max_frame);
    if (sm->payload_len + HF_DELIVER_RESERVE > max_frame && hf_msg_body_size(&m) > max_frame)
        return false;
    hf_conn_send(c, &m);
    return true;
}

void fetch_done(void *arg, int status, const hf_store_msg *msgs, size_t count)
{
    auto *s = static_cast<hf_session *>(arg);
    hf_conn *c = s->conn;
    s->fetching = false;
    hf_histogram_observe(&c->d->stats.store_fetch_seconds, hf_mono_us() - s->fetch_started_us);
    if (status != HF_STORE_OK) {
        // A store that is down (a Redis failover) comes back by itself;
        // the device's queue is read again then, not at its next event.
        hf_log(HF_LOG_WARNING, "store: fetch for %s/%s failed (status %d); trying again in %lld ms", s->account.c_str(),
               s->device.c_str(), status, (long long)c->d->cfg.store_retry_ms);
        if (!s->fetch_retry)
            s->fetch_retry.reset(event_new(
                c->d->base.get(), -1, 0,
                [](evutil_socket_t, short, void *arg) { hf_session_pump(static_cast<hf_session *>(arg)); }, s));
        event_add(s->fetch_retry.get(), hf_daemon_timeout(c->d, uint64_t(c->d->cfg.store_retry_ms)));
    } else if (hf_conn_is_open(c)) {
        for (size_t i = 0; i < count; i++) {
            if (!send_deliver(c, &msgs[i]))
                s->too_large.emplace_back(msgs[i].seq, msgs[i].payload_len);
            s->inflight.push_back(msgs[i].seq);
            s->last_sent_seq = msgs[i].seq;
        }
        settle_too_large(s);
        // A full batch may mean more is waiting.
        if (count > 0 && count == s->fetch_asked)
            s->fetch_again = true;
    }
    if (!s->in_fetch_call && s->fetch_again)
        hf_session_pump(s);
    hf_conn_unref(c);
}

} // namespace

void hf_session_pump(hf_session *s)
{
    hf_conn *c = s->conn;
    hf_daemon *d = c->d;
    if (s->fetching) {
        s->fetch_again = true;
        return;
    }
    if (d->stopping)
        return; // draining: what is stored stays for the next connection
    hf_conn_ref(c);
    // Loop rather than recurse when the store completes synchronously.
    while (hf_conn_is_open(c) && !s->fetching) {
        size_t room = size_t(d->cfg.window) - inflight_count(s);
        if (room == 0)
            break;
        s->fetching = true;
        s->fetch_asked = uint32_t(room);
        s->fetch_again = false;
        s->in_fetch_call = true;
        hf_conn_ref(c); // released by fetch_done
        s->fetch_started_us = hf_mono_us();
        d->store->fetch(d->store_instance, s->account.c_str(), s->device.c_str(), s->last_sent_seq, uint32_t(room),
                        fetch_max_bytes, d->host.now_ms(d->host.host), fetch_done, s);
        s->in_fetch_call = false;
        if (!s->fetch_again)
            break;
    }
    hf_conn_unref(c);
}

void hf_session_on_frame(hf_conn *c, const hf_msg *m)
{
    if (c->state == hf_conn_state::hello) {
        if (m->type != HF_MSG_HELLO) {
            hf_conn_fail(c, HF_ERR_UNEXPECTED_TYPE,
                         std::string(hf_msg_type_name(m->type)) + " before HELLO; send HELLO first");
            return;
        }
        on_hello(c, m);
        return;
    }
    switch (m->type) {
    case HF_MSG_PING:
        on_ping(c, m);
        break;
    case HF_MSG_SEND:
        hf_route_send(c->session.get(), m);
        break;
    case HF_MSG_DELIVER_ACK:
        on_deliver_ack(c, m);
        break;
    default:
        hf_conn_fail(c, HF_ERR_UNEXPECTED_TYPE,
                     std::string(hf_msg_type_name(m->type)) + " is not accepted from a device after HELLO");
        break;
    }
}

void hf_session_closed(hf_conn *c)
{
    hf_session *s = c->session.get();
    if (!s || !s->online)
        return;
    s->online = false;
    auto it = c->d->online_devices.find(s->key);
    if (it != c->d->online_devices.end() && it->second == s)
        c->d->online_devices.erase(it);
    // A drain closes every connection: that says nothing of the message.
    if (s->inflight_head < s->inflight.size() && !c->d->stopping)
        count_failed_delivery(s, s->inflight[s->inflight_head]);
    if (s->acked_upto)
        c->d->recent_acks[s->key] = {s->acked_upto, hf_mono_ms()};
    auto count = c->d->online_per_account.find(s->account);
    if (count != c->d->online_per_account.end() && --count->second == 0)
        c->d->online_per_account.erase(count);
    hf_route_target_gone(s);
    hf_daemon *d = c->d;
    d->store->presence_clear(d->store_instance, s->account.c_str(), s->device.c_str(), d->cfg.server_id.c_str(),
                             presence_done, nullptr);
    hf_log(HF_LOG_DEBUG, "%s/%s offline", s->account.c_str(), s->device.c_str());
}

hf_session *hf_session_find(hf_daemon *d, std::string_view account, std::string_view device)
{
    auto it = d->online_devices.find(hf_device_key(account, device));
    return it == d->online_devices.end() ? nullptr : it->second;
}

uint64_t hf_session_acked_upto(hf_daemon *d, std::string_view account, std::string_view device)
{
    std::string key = hf_device_key(account, device);
    auto online = d->online_devices.find(key);
    if (online != d->online_devices.end())
        return online->second->acked_upto;
    auto recent = d->recent_acks.find(key);
    return recent == d->recent_acks.end() ? 0 : recent->second.first;
}

void hf_session_prune(hf_daemon *d)
{
    uint64_t now = hf_mono_ms();
    for (auto it = d->recent_acks.begin(); it != d->recent_acks.end();)
        it = now - it->second.second > 60000 ? d->recent_acks.erase(it) : std::next(it);
    for (auto it = d->failed_deliveries.begin(); it != d->failed_deliveries.end();)
        it = now - it->second.last_ms > 3600000 ? d->failed_deliveries.erase(it) : std::next(it);
}

uint64_t hf_session_granted_ms(const hf_session *s)
{
    return s->granted_ms;
}

void hf_session_refresh_presence(hf_daemon *d)
{
    for (auto &entry : d->online_devices)
        d->store->presence_set(d->store_instance, entry.second->account.c_str(), entry.second->device.c_str(),
                               d->cfg.server_id.c_str(), uint64_t(d->cfg.presence_ttl_ms), presence_done, nullptr);
}

void hf_session_data_ready(hf_daemon *d, const char *account, const char *device)
{
    hf_session *s = hf_session_find(d, account, device);
    if (s)
        hf_session_pump(s);
}
