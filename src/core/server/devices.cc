#include "core/server/wake.h"
#include "core/server/devices.h"

#include <memory>

#include "core/common/log.h"
#include "core/common/token_check.h"
#include "core/server/delivery.h"
#include "core/server/device_keys.h"
#include "core/server/presence.h"
#include "core/server/subscriptions.h"
#include "core/server/revocation.h"
#include "core/server/router.h"
#include "core/server/session.h"
#include "proto/build.h"
#include "proto/device_key.h"
#include "proto/frame.h"

namespace
{

hf_server *server_of(const hf_conn *c)
{
    return static_cast<hf_server *>(c->handler_ctx);
}

hf_session *session_of(const hf_conn *c)
{
    return static_cast<hf_session *>(c->owner);
}

// Presence is refreshed periodically and only matters for shared stores:
// a failure is for the debug log (the store logs its outage itself).
void presence_done(void *, int status)
{
    if (status != HF_STORE_OK)
        hf_log(HF_LOG_DEBUG, "store: presence update failed (status %d)", status);
}

void send_welcome(hf_session *s, uint64_t timeout_ms)
{
    hf_server *srv = s->srv;
    uint64_t max_frame = uint64_t(srv->cfg->max_frame);
    hf_msg m = hf_msg_welcome(s->granted_ms, timeout_ms, uint64_t(srv->cfg->window), max_frame,
                              max_frame - HF_DELIVER_RESERVE, srv->cfg->server_id, s->account, s->device);
    // An adaptive policy says how far the device may probe.
    if (srv->heartbeat.has(&hf_heartbeat_ops::bounds)) {
        uint64_t min_ms = 0, max_ms = 0;
        srv->heartbeat(&hf_heartbeat_ops::bounds, &min_ms, &max_ms);
        hf_msg_add_bounds(&m, min_ms, max_ms);
    }
    hf_msg_add_features(&m, HF_FEATURE_PRESENCE | (hf_push_enabled(s->srv) ? HF_FEATURE_PUSH : 0) |
                                (hf_keys_enabled(s->srv) ? HF_FEATURE_KEYS : 0) |
                                (hf_wake_enabled(s->srv) ? HF_FEATURE_WAKE : 0));
    hf_conn_send(s->conn, &m);
}

// The token is good and not revoked: the device goes online here.
void add_device(hf_session *s);

// The account's list of devices must name the device (a '*' send skips
// one it does not, and the nemesis saw those messages lost): a failed add
// is tried again after delivery.store_retry while the device is online.
void device_added(void *arg, int status)
{
    auto *s = static_cast<hf_session *>(arg);
    hf_conn *c = s->conn;
    if (status != HF_STORE_OK && hf_conn_is_open(c)) {
        hf_server *srv = s->srv;
        hf_log(HF_LOG_WARNING, "store: add_device for %s/%s failed (status %d); trying again in %lld ms",
               s->account.c_str(), s->device.c_str(), status, (long long)srv->cfg->store_retry_ms);
        hf_server_retry_later(srv, &s->add_device_retry, s,
                              [](evutil_socket_t, short, void *arg) { add_device(static_cast<hf_session *>(arg)); });
    }
    hf_conn_unref(c);
}

void add_device(hf_session *s)
{
    hf_conn_ref(s->conn); // released by device_added
    s->srv->store(&hf_store_ops::add_device, s->account.c_str(), s->device.c_str(), device_added, s);
}

void welcome(hf_session *s, uint64_t requested_heartbeat_ms)
{
    hf_conn *c = s->conn;
    hf_server *srv = s->srv;
    uint64_t granted = 0, timeout = 0;
    srv->heartbeat(&hf_heartbeat_ops::negotiate, requested_heartbeat_ms, &granted, &timeout);
    s->granted_ms = granted;
    hf_online &online = srv->online;
    auto existing = online.devices.find(s->key);
    if (existing != online.devices.end()) {
        hf_conn_fail(existing->second->conn, HF_ERR_REPLACED, std::string("device connected again from ") + c->peer);
    } else if (online.per_account[s->account] >= uint64_t(srv->cfg->max_devices_per_account)) {
        hf_limit_hit(&srv->conns->limits, hf_limit::devices_per_account, s->account.c_str());
        hf_conn_fail(c, HF_ERR_TOO_MANY_CONNECTIONS,
                     "account has limits.max_devices_per_account devices online already");
        return;
    }
    hf_online_enter(&online, s);
    hf_wake_connected(srv, s->account, s->device);
    hf_presence_changed(srv, s->account, s->device, true);
    add_device(s);
    srv->store(&hf_store_ops::presence_set, s->account.c_str(), s->device.c_str(), srv->cfg->server_id.c_str(),
               uint64_t(srv->cfg->presence_ttl_ms), presence_done, nullptr);
    if (s->device_key) {
        hf_keys_publish(s, *s->device_key);
        s->device_key.reset();
    }
    hf_conn_set_ready(c, timeout);
    send_welcome(s, timeout);
    hf_log(HF_LOG_DEBUG, "conn %llu %s: %s/%s online, heartbeat %llums", (unsigned long long)c->id, c->peer,
           s->account.c_str(), s->device.c_str(), (unsigned long long)granted);
    hf_delivery_pump(s);
}

void on_frame(hf_conn *c, const hf_msg *m);

// Frames that came behind the HELLO while it waited, in order.
void replay_early_frames(hf_session *s)
{
    std::vector<std::string> frames;
    frames.swap(s->early_frames);
    for (const std::string &frame : frames) {
        if (!hf_conn_is_open(s->conn))
            return;
        hf_frame_header hdr;
        hf_msg m;
        hf_decode_error derr;
        const auto *bytes = reinterpret_cast<const uint8_t *>(frame.data());
        if (hf_frame_header_parse(bytes, frame.size(), frame.size(), &hdr) == HF_OK &&
            hf_msg_decode(hdr.type, hdr.flags, bytes + hdr.header_len, size_t(hdr.body_len), &s->conn->pool->decode, &m,
                          &derr) == HF_OK)
            on_frame(s->conn, &m);
    }
}

// The store's word on the device: admitted (unchecked if the store could
// not say), or refused.
void hello_checked(hf_session *s, hf_revocation_verdict verdict)
{
    s->hello_pending = false;
    if (verdict == hf_revocation_verdict::revoked) {
        s->srv->stats->hello_refused++;
        hf_conn_fail(s->conn, HF_ERR_REVOKED, std::string("token refused: ") + hf_err_text(HF_ERR_REVOKED));
        return;
    }
    if (verdict == hf_revocation_verdict::unknown) {
        hf_log(HF_LOG_INFO,
               "%s/%s: the store cannot say whether it is revoked; admitted, nothing delivered until it can",
               s->account.c_str(), s->device.c_str());
        s->revocation_unchecked = true;
        hf_revocation_recheck_later(s);
    }
    welcome(s, s->requested_heartbeat_ms);
    replay_early_frames(s);
}

void on_hello(hf_conn *c, const hf_msg *m)
{
    hf_server *srv = server_of(c);
    if (srv->stopping) {
        hf_conn_fail(c, HF_ERR_SHUTTING_DOWN, "server is draining; connect to another");
        return;
    }
    hf_token_claims claims;
    std::string why;
    int rc = hf_token_check(srv->cfg, m->token, &claims, &why);
    if (rc != HF_OK) {
        srv->stats->hello_refused++;
        hf_conn_fail(c, rc, "token refused: " + why);
        return;
    }
    if (!hf_msg_speaks_our_version(m)) {
        srv->stats->hello_refused++;
        hf_conn_fail(c, HF_ERR_UNSUPPORTED_VERSION, "this server speaks protocol version 1 only");
        return;
    }
    if (hf_msg_has(m, HF_TAG_DEVICE_KEY) && !hf_device_key_valid(m->device_key)) {
        srv->stats->hello_refused++;
        hf_conn_fail(c, HF_ERR_BAD_FIELD, "device_key must be two uncompressed P-256 points (ECDH, then ECDSA)");
        return;
    }
    if (std::string where; srv->held_elsewhere && srv->held_elsewhere(srv->shell, claims.account, &where)) {
        srv->stats->hello_refused++;
        hf_conn_fail(c, HF_ERR_WRONG_SERVER,
                     "account " + claims.account + " is held by " + where + "; ask the allocator");
        return;
    }
    auto *s = new hf_session;
    s->conn = c;
    s->srv = srv;
    s->account = claims.account;
    s->device = claims.device;
    s->key = hf_device_key(s->account, s->device);
    s->issued_at_ms = claims.issued_at_ms;
    s->requested_heartbeat_ms = hf_msg_has(m, HF_TAG_HEARTBEAT_MS) ? m->heartbeat_ms : 0;
    if (hf_msg_has(m, HF_TAG_DEVICE_KEY))
        s->device_key = std::make_unique<std::string>(m->device_key);
    c->owner = s;
    if (!srv->store.has(&hf_store_ops::revocation)) {
        welcome(s, s->requested_heartbeat_ms);
        return;
    }
    // A store may answer later: frames behind the HELLO wait for it.
    s->hello_pending = true;
    hf_revocation_check(s, hello_checked);
}

// DELIVER_ACK with a code: the device refuses upto (and acknowledges
// every seq before it).
void on_refusal(hf_session *s, const hf_msg *m)
{
    if (m->upto <= s->acked_upto)
        return; // a repeat: it went already
    if (m->code == HF_OK) {
        hf_conn_fail(s->conn, HF_ERR_BAD_FIELD, "DELIVER_ACK code 0 refuses nothing; leave code out to acknowledge");
        return;
    }
    if (!hf_delivery_sent(s, m->upto)) {
        hf_conn_fail(s->conn, HF_ERR_BAD_ACK,
                     "seq " + std::to_string(m->upto) +
                         " was not delivered on this connection, so it cannot be refused");
        return;
    }
    if (m->upto - 1 > s->acked_upto)
        hf_router_acknowledged(s->srv->router, s, m->upto - 1); // as on_deliver_ack: before the window forgets
    hf_router_refused(s->srv->router, s, m->upto);
    hf_delivery_refuse(s, m->upto, int(m->code), std::string(m->text));
    hf_delivery_pump(s);
}

void on_deliver_ack(hf_session *s, const hf_msg *m)
{
    if (m->upto > s->last_sent_seq) {
        hf_conn_fail(s->conn, HF_ERR_BAD_ACK,
                     "upto " + std::to_string(m->upto) + " is past the last delivered seq " +
                         std::to_string(s->last_sent_seq));
        return;
    }
    if (hf_msg_has(m, HF_TAG_CODE)) {
        on_refusal(s, m);
        return;
    }
    // The router first: it checks each waiting seq against what the window
    // says was sent as it, before the window lets go of it.
    hf_router_acknowledged(s->srv->router, s, m->upto);
    if (hf_delivery_take_ack(s, m->upto) == 0)
        return; // a repeated acknowledgement: nothing new
    hf_delivery_pump(s);
}

void on_ping(hf_session *s, const hf_msg *m)
{
    hf_server *srv = s->srv;
    hf_msg pong = hf_msg_pong(m);
    // A new interval from now on: granted by the policy, and the timeout
    // follows it at once.
    if (hf_msg_has(m, HF_TAG_HEARTBEAT_MS)) {
        uint64_t granted = 0, timeout = 0;
        srv->heartbeat(&hf_heartbeat_ops::negotiate, m->heartbeat_ms, &granted, &timeout);
        s->granted_ms = granted;
        hf_conn_set_ready(s->conn, timeout);
        hf_msg_add_grant(&pong, granted, timeout);
        hf_log(HF_LOG_DEBUG, "%s/%s heartbeat now %llu ms", s->account.c_str(), s->device.c_str(),
               (unsigned long long)granted);
    }
    hf_conn_send(s->conn, &pong);
    if (srv->heartbeat.has(&hf_heartbeat_ops::on_ping))
        srv->heartbeat(&hf_heartbeat_ops::on_ping, s->granted_ms);
}

// Most frames held behind a HELLO waiting for the store: a client that
// sends on before WELCOME sends a window's worth at most.
const size_t early_frames_max = 256;

void hold_early_frame(hf_session *s, const hf_msg *m)
{
    if (m->type == HF_MSG_HELLO) {
        hf_conn_fail(s->conn, HF_ERR_UNEXPECTED_TYPE, "HELLO sent twice");
        return;
    }
    if (s->early_frames.size() >= early_frames_max) {
        hf_conn_fail(s->conn, HF_ERR_RATE_LIMITED, "too many frames before WELCOME; wait for it");
        return;
    }
    std::string frame;
    hf_msg_encode(m, &frame);
    s->early_frames.push_back(std::move(frame));
}

void on_frame(hf_conn *c, const hf_msg *m)
{
    hf_session *s = session_of(c);
    if (s && s->hello_pending) {
        hold_early_frame(s, m);
        return;
    }
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
        on_ping(s, m);
        break;
    case HF_MSG_SEND:
        hf_router_send(s->srv->router, s, m);
        break;
    case HF_MSG_DELIVER_ACK:
        on_deliver_ack(s, m);
        break;
    case HF_MSG_PRESENCE_REQ:
        hf_presence_request(s, m);
        break;
    case HF_MSG_SUBSCRIBE:
        hf_subscribe_request(s, m);
        break;
    case HF_MSG_WAKE:
        hf_wake_request(s, m);
        break;
    default:
        hf_conn_fail(c, HF_ERR_UNEXPECTED_TYPE,
                     std::string(hf_msg_type_name(m->type)) + " is not accepted from a device after HELLO");
        break;
    }
}

// The connection is going: off the online table at once, waiters told.
void on_closed(hf_conn *c)
{
    hf_session *s = session_of(c);
    if (!s || !s->online)
        return;
    hf_server *srv = s->srv;
    hf_online_leave(&srv->online, s);
    hf_presence_forget(s);
    // Replaced by a newer connection of the device: still online.
    if (!hf_online_find(&srv->online, s->account, s->device))
        hf_presence_changed(srv, s->account, s->device, false);
    hf_router_target_gone(srv->router, s);
    srv->store(&hf_store_ops::presence_clear, s->account.c_str(), s->device.c_str(), srv->cfg->server_id.c_str(),
               presence_done, nullptr);
    hf_log(HF_LOG_DEBUG, "%s/%s offline", s->account.c_str(), s->device.c_str());
}

// The heartbeat policy hears of a device that fell silent at its interval.
void on_heartbeat_timeout(hf_conn *c)
{
    hf_session *s = session_of(c);
    if (s && s->srv->heartbeat.has(&hf_heartbeat_ops::on_timeout))
        s->srv->heartbeat(&hf_heartbeat_ops::on_timeout, s->granted_ms);
}

void on_free(hf_conn *c)
{
    delete session_of(c);
    c->owner = nullptr;
}

} // namespace

const hf_conn_handler hf_devices_handler = {
    nullptr, on_frame, on_closed, on_heartbeat_timeout, on_free, "no HELLO within limits.hello_timeout",
};

namespace
{

// A presence refresh on its way: the connection it was made for.
struct presence_refresh {
    hf_server *srv;
    std::string account, device;
    uint64_t conn_id;
};

void presence_refreshed(void *arg, int status, int lapsed)
{
    std::unique_ptr<presence_refresh> r(static_cast<presence_refresh *>(arg));
    hf_session *s = hf_online_find(&r->srv->online, r->account, r->device);
    if (!s || s->conn->id != r->conn_id)
        return; // gone, or connected again since: that arrival stands
    if (status == HF_STORE_ELSEWHERE) {
        // Another server took the device since: this connection is one
        // it left (a stopped or cut-off server notices late), and every
        // announcement of its messages goes there now.
        hf_log(HF_LOG_INFO, "%s/%s connected to another server since; cutting the connection it left here",
               s->account.c_str(), s->device.c_str());
        hf_conn_fail(s->conn, HF_ERR_REPLACED, "device connected again on another server");
    } else if (status == HF_STORE_OK && lapsed) {
        hf_delivery_pump(s); // what was announced while it had no presence went nowhere
    } else {
        presence_done(nullptr, status);
    }
}

} // namespace

void hf_devices_refresh_presence(hf_server *srv)
{
    hf_presence_renew_watches(srv);
    bool conditional = srv->store.has(&hf_store_ops::presence_refresh);
    for (auto &entry : srv->online.devices) {
        hf_session *s = entry.second;
        if (conditional)
            srv->store(&hf_store_ops::presence_refresh, s->account.c_str(), s->device.c_str(),
                       srv->cfg->server_id.c_str(), uint64_t(srv->cfg->presence_ttl_ms), presence_refreshed,
                       new presence_refresh{srv, s->account, s->device, s->conn->id});
        else
            srv->store(&hf_store_ops::presence_set, s->account.c_str(), s->device.c_str(), srv->cfg->server_id.c_str(),
                       uint64_t(srv->cfg->presence_ttl_ms), presence_done, nullptr);
    }
}

void hf_devices_data_ready(hf_server *srv, const char *account, const char *device)
{
    if (!account) { // announcements may have been missed: every device looks
        for (auto &entry : srv->online.devices)
            hf_delivery_pump(entry.second);
        return;
    }
    hf_session *s = hf_online_find(&srv->online, account, device);
    if (s)
        hf_delivery_pump(s);
}

void hf_devices_goaway(hf_server *srv)
{
    hf_msg goaway = hf_msg_goaway(HF_ERR_SHUTTING_DOWN, "server is shutting down");
    hf_msg_add_addresses(&goaway, srv->peer_addresses.data(), srv->peer_addresses.size());
    for (auto &entry : srv->online.devices)
        hf_conn_send(entry.second->conn, &goaway);
}

void hf_devices_kick(hf_server *srv, const char *account, const char *device, int code, const char *why)
{
    hf_session *s = hf_online_find(&srv->online, account, device);
    if (s)
        hf_conn_fail(s->conn, code, why);
}
