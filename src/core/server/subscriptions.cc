#include "core/server/subscriptions.h"

#include <vector>

#include "core/conn/conn.h"
#include "core/server/push_endpoint.h"
#include "core/server/server.h"
#include "core/server/session.h"
#include "proto/build.h"
#include "proto/clock.h"
#include "proto/ece.h"
#include "proto/token.h"

namespace
{

// One SUBSCRIBE while the store reads and writes the device's records.
struct subscribe_call {
    hf_session *s; // its connection's ref is held
    uint64_t id;
    std::string app, vapid_key;
    bool remove = false;
    hf_subscription made; // a new subscription, once written
};

void finish(subscribe_call *call, const std::vector<hf_subscription> &listed, int code, const std::string &text)
{
    hf_session *s = call->s;
    hf_conn *c = s->conn;
    s->subscribe_pending = false;
    if (hf_conn_is_open(c)) {
        const hf_config &cfg = *s->srv->cfg;
        for (const hf_subscription &sub : listed) {
            std::string endpoint = hf_push_endpoint(cfg.push_key, cfg.push_url, s->account, s->device, sub.id);
            hf_msg m = hf_msg_subscription(call->id, sub.app, endpoint, sub.vapid_key);
            hf_conn_send(c, &m);
        }
        hf_msg end = hf_msg_subscription_end(call->id, code == HF_OK ? listed.size() : 0, code, text);
        hf_conn_send(c, &end);
    }
    hf_conn_unref(c);
    delete call;
}

void written(void *arg, int status)
{
    auto *call = static_cast<subscribe_call *>(arg);
    if (status != HF_STORE_OK)
        finish(call, {}, HF_ERR_STORE_UNAVAILABLE, "the store could not keep the subscription; ask again");
    else if (call->remove)
        finish(call, {}, HF_OK, "");
    else
        finish(call, {call->made}, HF_OK, "");
}

void put(subscribe_call *call, const hf_subscription *sub)
{
    hf_server *srv = call->s->srv;
    std::string name = hf_subscription_record_name(call->app), value = sub ? hf_subscription_encode(*sub) : "";
    srv->store(&hf_store_ops::record_put, call->s->account.c_str(), call->s->device.c_str(), name.c_str(),
               sub ? reinterpret_cast<const uint8_t *>(value.data()) : nullptr, value.size(), written, call);
}

void records_read(void *arg, int status, const hf_store_record *records, size_t count)
{
    auto *call = static_cast<subscribe_call *>(arg);
    if (status != HF_STORE_OK) {
        finish(call, {}, HF_ERR_STORE_UNAVAILABLE, "cannot read the device's subscriptions from the store; ask again");
        return;
    }
    std::vector<hf_subscription> subs = hf_subscriptions_of(records, count);
    const hf_subscription *same_app = nullptr;
    for (const hf_subscription &sub : subs)
        if (sub.app == call->app)
            same_app = &sub;
    if (call->app.empty()) {
        finish(call, subs, HF_OK, "");
        return;
    }
    if (call->remove) {
        if (same_app)
            put(call, nullptr);
        else
            finish(call, {}, HF_OK, "");
        return;
    }
    // Asked again with the same key: the same subscription (a browser's
    // pushManager.subscribe() does the same). Another key replaces it.
    if (same_app && same_app->vapid_key == call->vapid_key) {
        finish(call, {*same_app}, HF_OK, "");
        return;
    }
    uint64_t max = uint64_t(call->s->srv->cfg->push_max_subscriptions);
    if (!same_app && subs.size() >= max) {
        finish(call, {}, HF_ERR_TOO_MANY_SUBSCRIPTIONS,
               "the device holds " + std::to_string(subs.size()) +
                   " subscriptions, as many as push.max_subscriptions allows; unsubscribe one first");
        return;
    }
    call->made.app = call->app;
    call->made.id = hf_subscription_new_id();
    call->made.created_ms = hf_wall_ms();
    call->made.vapid_key = call->vapid_key;
    if (call->made.id.empty()) {
        finish(call, {}, HF_ERR_INTERNAL, "no random bytes for the subscription");
        return;
    }
    put(call, &call->made);
}

} // namespace

bool hf_push_enabled(const hf_server *srv)
{
    return !srv->cfg->push_key.empty() && srv->store.has(&hf_store_ops::record_put) &&
           srv->store.has(&hf_store_ops::records);
}

void hf_subscribe_request(hf_session *s, const hf_msg *m)
{
    if (!hf_session_request_admitted(s, m, s->subscribe_pending))
        return;
    const char *refused = nullptr;
    int code = HF_ERR_BAD_FIELD;
    if (!hf_push_enabled(s->srv)) {
        code = HF_ERR_FORBIDDEN;
        refused = s->srv->cfg->push_key.empty() ? "Web Push is off on this server (push.key_file)"
                                                : "this server's store keeps no device records: no Web Push";
    } else if (hf_msg_has(m, HF_TAG_APP) && !hf_name_valid(m->app)) {
        refused = "app must be a name: 1-64 of A-Z a-z 0-9 . _ - @";
    } else if (hf_msg_has(m, HF_TAG_VAPID_KEY) && !hf_p256_public_valid(m->vapid_key)) {
        refused = "vapid_key must be a P-256 public key, 65 bytes uncompressed (RFC 8292's k)";
    } else if (!hf_msg_has(m, HF_TAG_APP) && (hf_msg_has(m, HF_TAG_VAPID_KEY) || m->remove)) {
        refused = "vapid_key and remove need an app";
    }
    if (refused) {
        hf_msg end = hf_msg_subscription_end(m->id, 0, code, refused);
        hf_conn_send(s->conn, &end);
        return;
    }
    s->subscribe_pending = true;
    hf_conn_ref(s->conn);
    auto *call = new subscribe_call{s, m->id, std::string(m->app), std::string(m->vapid_key), m->remove != 0, {}};
    s->srv->store(&hf_store_ops::records, s->account.c_str(), s->device.c_str(), records_read, call);
}
