#include "core/server/wake.h"
#include "core/server/router.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/common/log.h"
#include "core/conn/conn.h"
#include "core/server/delivery.h"
#include "core/server/server.h"
#include "proto/build.h"
#include "proto/clock.h"
#include "proto/token.h"

// One SEND in flight. It holds a copy of the message because targets
// are enqueued after asynchronous steps (the device list for "*").
struct hf_pending_send {
    hf_router *r;
    hf_conn *sender = nullptr;             // a device's (ref held until freed), or null for an API call
    hf_session *sender_session = nullptr;  // the sender's session, alive as long as its connection
    hf_send_answer_fn answer_fn = nullptr; // an API call's (when sender is null)
    void *answer_arg = nullptr;
    uint64_t msg_id;
    uint32_t refs = 1;        // the router's, one per target copy, one in the FIFO
    uint32_t unsettled = 0;   // targets without an outcome yet
    uint32_t not_durable = 0; // targets whose enqueue has not completed
    uint32_t delivered = 0, stored = 0, rejected = 0;
    int reject_code = HF_OK;
    bool issuing = true; // still handing targets to the store
    bool answered = false;
    bool in_fifo = false;
    uint64_t deadline_ms = 0;
    std::string account, from, collapse, payload;
    std::string target; // one device, checked against the account's before its enqueue
    uint64_t stored_at_ms = 0, expires_at_ms = 0;
};

// One target's copy of a SEND, from its enqueue until the store has
// answered and no waiter holds it.
struct hf_target_copy : hf_enqueue_arg {
    hf_pending_send *send; // ref held
    std::string device;
    uint64_t started_us;  // for the store latency histogram
    uint32_t refs = 1;    // the enqueue's, one per waiter
    bool settled = false; // counted in the send's outcome
    bool durable = false; // the enqueue completed
    bool waiting = false; // a waiter of the target holds it
};

// A SEND whose sender waits to hear "delivered": resolved when the target
// acknowledges seq, or as "stored" when the target goes away first (once
// the store has made it durable).
struct hf_delivery_waiter {
    uint64_t seq;
    hf_target_copy *copy;
};

struct hf_router {
    hf_server *srv;
    // Sends waiting for their targets' acknowledgement, oldest first. They
    // all wait the same delivery.ack_wait, so a FIFO and one timer suffice.
    std::deque<hf_pending_send *> awaiting_ack;
    hf_event_ptr ack_wait_timer;
    // Target copies their targets acknowledged, settled together once
    // delivery.ack_batch has passed.
    std::vector<hf_target_copy *> acked_copies;
    hf_event_ptr ack_batch_timer;
    // By target session, ascending seq.
    std::unordered_map<const hf_session *, std::vector<hf_delivery_waiter>> waiters;
};

namespace
{

enum class outcome { delivered, stored, rejected };

void answer(hf_pending_send *p);

void unref(hf_pending_send *p)
{
    if (--p->refs == 0) {
        // Shutdown let go of it unanswered: an API caller still hears,
        // and a device's count of unanswered SENDs drops.
        if (!p->answered && p->answer_fn) {
            p->rejected++;
            p->reject_code = HF_ERR_SHUTTING_DOWN;
            answer(p);
        }
        if (!p->answered && p->sender_session)
            p->sender_session->unanswered_sends--;
        if (p->sender)
            hf_conn_unref(p->sender);
        delete p;
    }
}

// A store that is full or away comes back by itself: the sender is told
// when to try again (0: no retry_ms for this code).
uint64_t store_retry_of(const hf_config &cfg, int code)
{
    return code == HF_ERR_STORE_FULL || code == HF_ERR_STORE_UNAVAILABLE ? uint64_t(cfg.store_retry_ms) : 0;
}

// A SEND_ACK, with retry_ms if not 0; p (null for a SEND refused before
// any store work) adds the counts.
void send_ack(hf_conn *sender, uint64_t id, hf_send_status status, int code, const std::string &text, uint64_t retry_ms,
              const hf_pending_send *p)
{
    if (!hf_conn_is_open(sender))
        return;
    hf_msg m = hf_msg_send_ack(id, status);
    if (code != HF_OK)
        hf_msg_add_reason(&m, code, text);
    if (retry_ms)
        hf_msg_add_retry(&m, retry_ms);
    if (p)
        hf_msg_add_counts(&m, p->delivered, p->stored, p->rejected);
    hf_conn_send(sender, &m);
}

void answer(hf_pending_send *p)
{
    p->answered = true;
    hf_send_status status = p->rejected ? HF_SEND_REJECTED : p->stored ? HF_SEND_STORED : HF_SEND_DELIVERED;
    if (status == HF_SEND_REJECTED)
        p->r->srv->stats->messages_rejected[p->reject_code]++;
    const char *text = p->rejected ? hf_err_text(p->reject_code) : "";
    uint64_t retry_ms = store_retry_of(*p->r->srv->cfg, p->reject_code);
    if (p->sender) {
        p->sender_session->unanswered_sends--;
        send_ack(p->sender, p->msg_id, status, p->reject_code, text, retry_ms, p);
        return;
    }
    hf_send_outcome o{status, p->reject_code, text, p->delivered, p->stored, p->rejected, retry_ms};
    p->answer_fn(p->answer_arg, &o);
}

void unref_copy(hf_target_copy *t)
{
    if (--t->refs == 0) {
        unref(t->send);
        delete t;
    }
}

void maybe_answer(hf_pending_send *p)
{
    if (!p->answered && !p->issuing && p->unsettled == 0)
        answer(p);
}

void settle(hf_pending_send *p, outcome o, int code = HF_OK)
{
    p->unsettled--;
    if (p->answered)
        return; // ack_wait already answered "stored" for this target
    switch (o) {
    case outcome::delivered:
        p->delivered++;
        break;
    case outcome::stored:
        p->stored++;
        break;
    case outcome::rejected:
        p->rejected++;
        if (p->reject_code == HF_OK)
            p->reject_code = code;
        break;
    }
    maybe_answer(p);
}

// Each copy counts once, whichever of the store and the target comes first.
void settle_copy(hf_target_copy *t, outcome o, int code = HF_OK)
{
    if (t->settled)
        return;
    t->settled = true;
    settle(t->send, o, code);
}

void arm_ack_wait(hf_router *r)
{
    if (r->awaiting_ack.empty())
        return;
    uint64_t now = hf_mono_ms(), deadline = r->awaiting_ack.front()->deadline_ms;
    timeval tv = hf_timeval_ms(deadline > now ? deadline - now : 0);
    event_add(r->ack_wait_timer.get(), &tv);
}

// The target's waiters stay in seq order: a copy waits from the store's
// enqueue_applied (in seq order) or from its completion (also in order), and
// a device that reconnects between the two can see both kinds.
void add_waiter(hf_router *r, hf_target_copy *t, const hf_session *target, uint64_t seq)
{
    t->refs++;
    t->waiting = true;
    std::vector<hf_delivery_waiter> &w = r->waiters[target];
    auto at = w.end();
    while (at != w.begin() && (at - 1)->seq > seq)
        --at;
    w.insert(at, hf_delivery_waiter{seq, t});
}

// delivery.ack_wait starts once every copy is durable: "stored" is said
// only of what is.
void enter_ack_wait(hf_pending_send *p)
{
    hf_router *r = p->r;
    uint64_t ack_wait_ms = uint64_t(r->srv->cfg->ack_wait_ms);
    if (p->in_fifo || p->answered || p->not_durable > 0 || p->unsettled == 0 || ack_wait_ms == 0)
        return;
    p->in_fifo = true;
    p->refs++;
    p->deadline_ms = hf_mono_ms() + ack_wait_ms;
    r->awaiting_ack.push_back(p);
    if (r->awaiting_ack.size() == 1)
        arm_ack_wait(r);
}

int reject_code_of(int store_status)
{
    switch (store_status) {
    case HF_STORE_QUEUE_FULL:
        return HF_ERR_QUEUE_FULL;
    case HF_STORE_ACCOUNT_FULL:
        return HF_ERR_ACCOUNT_FULL;
    case HF_STORE_FULL:
        return HF_ERR_STORE_FULL;
    case HF_STORE_UNAVAILABLE:
        return HF_ERR_STORE_UNAVAILABLE;
    default:
        return HF_ERR_INTERNAL;
    }
}

struct presence_ctx {
    hf_server *srv;
    std::string account, device;
};

void presence_found(void *arg, int status, const char *server_id)
{
    std::unique_ptr<presence_ctx> ctx(static_cast<presence_ctx *>(arg));
    hf_server *srv = ctx->srv;
    if (status == HF_STORE_OK && server_id && srv->cfg->server_id != server_id)
        srv->store(&hf_store_ops::notify, server_id, ctx->account.c_str(), ctx->device.c_str());
    else if (status == HF_STORE_OK && !server_id)
        hf_wake_stored(srv, ctx->account, ctx->device);
}

// The target is not here: if a shared store says another server holds
// it, tell that server to deliver; if none does, wake it (wake.h).
void notify_elsewhere(hf_server *srv, const std::string &account, const std::string &device)
{
    auto *ctx = new presence_ctx{srv, account, device};
    srv->store(&hf_store_ops::presence_lookup, account.c_str(), device.c_str(), presence_found, ctx);
}

// The store's answer for a copy not settled yet (by its target's early
// acknowledgement): the outcome, or a waiter for the target's.
void settle_durable(hf_target_copy *t, hf_session *target, int status, uint64_t seq, int acked)
{
    hf_pending_send *p = t->send;
    hf_server *srv = p->r->srv;
    if (status == HF_STORE_OK) {
        // The target may have acknowledged it already (from the store's
        // enqueue_applied, or in an earlier connection).
        if (seq <= hf_online_acked_upto(&srv->online, p->account, t->device))
            settle_copy(t, outcome::delivered);
        else if (!t->waiting && target && srv->cfg->ack_wait_ms > 0)
            add_waiter(p->r, t, target, seq);
        else if (!t->waiting)
            settle_copy(t, outcome::stored);
    } else if (status == HF_STORE_DUPLICATE) {
        settle_copy(t, acked ? outcome::delivered : outcome::stored);
    } else {
        // Per message, so debug: the store logs the cause, rate-limited.
        hf_log(HF_LOG_DEBUG, "message from %s/%s to %s refused by the store: %s", p->account.c_str(), p->from.c_str(),
               t->device.c_str(), hf_err_name(reject_code_of(status)));
        settle_copy(t, outcome::rejected, reject_code_of(status));
    }
}

// The store queued a target's copy as seq and shows it to fetches, ahead
// of the enqueue's (durable) completion: the target may acknowledge it
// before then, and the sender hear "delivered" at once. True when the
// sender's answer waits for the completion instead (no target here to
// acknowledge).
bool copy_applied(hf_enqueue_arg *arg, uint64_t seq)
{
    auto *t = static_cast<hf_target_copy *>(arg);
    hf_router *r = t->send->r;
    if (t->settled || t->waiting)
        return false;
    hf_session *target =
        r->srv->cfg->ack_wait_ms > 0 ? hf_online_find(&r->srv->online, t->send->account, t->device) : nullptr;
    if (!target)
        return true;
    add_waiter(r, t, target, seq);
    return false;
}

void enqueue_done(void *arg, int status, uint64_t seq, int acked)
{
    auto *t = static_cast<hf_target_copy *>(static_cast<hf_enqueue_arg *>(arg));
    hf_pending_send *p = t->send;
    hf_server *srv = p->r->srv;
    hf_histogram_observe(&srv->stats->store_enqueue_seconds, hf_mono_us() - t->started_us);
    t->durable = true;
    p->not_durable--;
    hf_session *target = hf_online_find(&srv->online, p->account, t->device);
    if (status == HF_STORE_OK)
        srv->stats->messages_stored++;
    if (!t->settled)
        settle_durable(t, target, status, seq, acked);
    enter_ack_wait(p);
    if (status == HF_STORE_OK && !target)
        notify_elsewhere(srv, p->account, t->device);
    // A store that tells the daemon at commit (LMDB) has usually had the
    // message sent already; pumping again would only fetch nothing.
    else if (status == HF_STORE_OK && seq > target->last_sent_seq)
        hf_delivery_pump(target);
    unref_copy(t);
}

void enqueue_to(hf_pending_send *p, const std::string &device)
{
    p->unsettled++;
    p->not_durable++;
    p->refs++;
    hf_store_enqueue_req req{p->account.c_str(),
                             device.c_str(),
                             p->from.c_str(),
                             p->msg_id,
                             p->collapse.empty() ? nullptr : p->collapse.c_str(),
                             reinterpret_cast<const uint8_t *>(p->payload.data()),
                             p->payload.size(),
                             p->stored_at_ms,
                             p->expires_at_ms};
    auto *copy = new hf_target_copy;
    copy->applied = copy_applied;
    copy->send = p;
    copy->device = device;
    copy->started_us = hf_mono_us();
    p->r->srv->store(&hf_store_ops::enqueue, &req, enqueue_done, static_cast<hf_enqueue_arg *>(copy));
}

void finish_issuing(hf_pending_send *p)
{
    p->issuing = false;
    maybe_answer(p);
    unref(p);
}

void devices_listed(void *arg, int status, const char *const *devices, size_t count)
{
    auto *p = static_cast<hf_pending_send *>(arg);
    if (status != HF_STORE_OK) {
        p->unsettled++;
        settle(p, outcome::rejected, reject_code_of(status));
    } else {
        for (size_t i = 0; i < count; i++)
            if (p->from != devices[i])
                enqueue_to(p, devices[i]);
        if (p->unsettled == 0 && p->delivered + p->stored + p->rejected == 0) {
            p->unsettled++;
            settle(p, outcome::rejected, HF_ERR_NO_TARGET);
        }
    }
    finish_issuing(p);
}

// delivery.unknown_devices = "reject": the one target goes into the store
// only if the account's device list has it (every HELLO adds the device).
void target_checked(void *arg, int status, const char *const *devices, size_t count)
{
    auto *p = static_cast<hf_pending_send *>(arg);
    if (status != HF_STORE_OK) {
        p->unsettled++;
        settle(p, outcome::rejected, reject_code_of(status));
    } else if (std::find(devices, devices + count, p->target) == devices + count) {
        p->unsettled++;
        settle(p, outcome::rejected, HF_ERR_UNKNOWN_DEVICE);
    } else {
        enqueue_to(p, p->target);
    }
    finish_issuing(p);
}

// The device part of `to`: "DEVICE", "*", or "ACCOUNT/DEVICE" where
// ACCOUNT must be the sender's own (anything else is forbidden).
bool target_device(hf_session *sender, std::string_view to, std::string_view *device, int *code, std::string *text)
{
    size_t slash = to.find('/');
    if (slash != std::string_view::npos) {
        // The grammar first: "a/b/c" is no target at all, whoever a is.
        if (to.find('/', slash + 1) != std::string_view::npos) {
            *code = HF_ERR_BAD_TARGET;
            *text = "\"to\" has more than one '/'; write DEVICE, * or ACCOUNT/DEVICE";
            return false;
        }
        if (to.substr(0, slash) != sender->account) {
            *code = HF_ERR_FORBIDDEN;
            *text = "a device may send only to devices of its own account";
            return false;
        }
        to = to.substr(slash + 1);
    }
    if (to != "*" && !hf_name_valid(to)) {
        *code = HF_ERR_BAD_TARGET;
        *text = "\"to\" must be a device name (1-64 of A-Z a-z 0-9 . _ - @), \"*\" or ACCOUNT/DEVICE";
        return false;
    }
    *device = to;
    return true;
}

// A SEND's fields, whoever sent it (a device, an API call).
bool check_fields(const hf_config &cfg, const hf_send_request *m, int *code, std::string *text)
{
    if (m->has_ttl && m->ttl == 0) {
        *code = HF_ERR_BAD_FIELD;
        *text = "ttl must be at least 1 second";
        return false;
    }
    if (m->has_ttl && m->ttl > uint64_t(cfg.max_ttl_ms) / 1000) {
        *code = HF_ERR_TTL_TOO_LONG;
        *text = "ttl exceeds this server's limit of " + std::to_string(cfg.max_ttl_ms / 1000) + " s";
        return false;
    }
    uint64_t max_payload = uint64_t(cfg.max_frame) - HF_DELIVER_RESERVE;
    if (m->payload.size() > max_payload) {
        *code = HF_ERR_PAYLOAD_TOO_LARGE;
        *text = "payload of " + std::to_string(m->payload.size()) + " bytes exceeds max_payload " +
                std::to_string(max_payload) + " (WELCOME): its DELIVER would not fit the receiver's max_frame";
        return false;
    }
    if (m->has_collapse && (m->collapse.empty() || m->collapse.size() > HF_NAME_MAX)) {
        *code = HF_ERR_BAD_FIELD;
        *text = "collapse key must be 1-64 bytes";
        return false;
    }
    return true;
}

// delivery.ack_batch passed: the acknowledged copies gathered are settled.
void on_ack_batch_due(evutil_socket_t, short, void *arg)
{
    auto *r = static_cast<hf_router *>(arg);
    std::vector<hf_target_copy *> due;
    due.swap(r->acked_copies);
    for (hf_target_copy *t : due) {
        settle_copy(t, outcome::delivered);
        unref_copy(t);
    }
}

// delivery.ack_wait passed for the oldest waiting sends.
void on_ack_wait_expired(evutil_socket_t, short, void *arg)
{
    auto *r = static_cast<hf_router *>(arg);
    uint64_t now = hf_mono_ms();
    while (!r->awaiting_ack.empty() && r->awaiting_ack.front()->deadline_ms <= now) {
        hf_pending_send *p = r->awaiting_ack.front();
        r->awaiting_ack.pop_front();
        p->in_fifo = false;
        if (!p->answered && !p->issuing && p->not_durable == 0) {
            // Targets still silent keep the message in their queue.
            p->stored += p->unsettled;
            answer(p);
        }
        unref(p);
    }
    arm_ack_wait(r);
}

// Acknowledgements come a few messages at a time; answering each at once
// has a sender refill its window a few messages at a time too, and every
// hop then moves tiny batches (a third of the throughput, measured).
// Gathered, the senders hear of them in bursts. The copy's waiter
// reference passes to the batch.
void gather_acked(hf_router *r, hf_target_copy *t)
{
    r->acked_copies.push_back(t);
    if (r->acked_copies.size() == 1) {
        timeval tv = hf_timeval_ms(uint64_t(r->srv->cfg->ack_batch_ms));
        event_add(r->ack_batch_timer.get(), &tv);
    }
}

} // namespace

hf_router *hf_router_new(hf_server *srv)
{
    auto *r = new hf_router;
    r->srv = srv;
    r->ack_wait_timer.reset(event_new(srv->conns->base, -1, 0, on_ack_wait_expired, r));
    r->ack_batch_timer.reset(event_new(srv->conns->base, -1, 0, on_ack_batch_due, r));
    return r;
}

void hf_router_release_all(hf_router *r)
{
    for (hf_target_copy *t : r->acked_copies)
        unref_copy(t);
    r->acked_copies.clear();
    while (!r->awaiting_ack.empty()) {
        hf_pending_send *p = r->awaiting_ack.front();
        r->awaiting_ack.pop_front();
        p->in_fifo = false;
        unref(p);
    }
}

void hf_router_free(hf_router *r)
{
    if (!r)
        return;
    hf_router_release_all(r);
    delete r;
}

namespace
{

// The store work of a SEND whose checks passed: its targets' enqueues.
void start_send(hf_router *r, const hf_send_request *m, std::string_view device, hf_pending_send *p)
{
    hf_server *srv = r->srv;
    const hf_config &cfg = *srv->cfg;
    p->r = r;
    p->msg_id = m->id;
    p->account = m->account;
    p->from = m->from;
    p->collapse = m->collapse;
    p->payload = m->payload;
    p->stored_at_ms = hf_wall_ms();
    uint64_t ttl_ms = m->has_ttl ? m->ttl * 1000 : uint64_t(cfg.default_ttl_ms);
    p->expires_at_ms = p->stored_at_ms + ttl_ms;
    if (device == "*") {
        srv->store(&hf_store_ops::list_devices, p->account.c_str(), devices_listed, p);
        return;
    }
    // A device online here is known; any other is looked up if it must be.
    if (cfg.unknown_devices == "reject" && !hf_online_find(&srv->online, p->account, device)) {
        p->target = device;
        srv->store(&hf_store_ops::list_devices, p->account.c_str(), target_checked, p);
        return;
    }
    enqueue_to(p, std::string(device));
    finish_issuing(p);
}

} // namespace

void hf_router_send(hf_router *r, hf_session *sender, const hf_msg *m)
{
    hf_conn *c = sender->conn;
    hf_server *srv = r->srv;
    const hf_config &cfg = *srv->cfg;
    srv->stats->messages_received++;
    int code = HF_OK;
    std::string text;
    std::string_view device;
    uint64_t retry_ms = 0;
    hf_send_request req{sender->account,
                        sender->device,
                        m->to,
                        m->id,
                        m->collapse,
                        m->payload,
                        hf_msg_has(m, HF_TAG_TTL),
                        m->ttl,
                        hf_msg_has(m, HF_TAG_COLLAPSE)};
    if (!hf_token_bucket_take(&sender->send_bucket, uint64_t(cfg.send_rate), uint64_t(cfg.send_burst), hf_mono_ms(),
                              &retry_ms)) {
        // Answered, not dropped: the sender may resend this id later. A
        // sender that ignores this runs into limits.frame_rate.
        hf_limit_hit(&srv->conns->limits, hf_limit::send_rate, c->peer);
        code = HF_ERR_RATE_LIMITED;
        text = "sending faster than limits.send_rate; resend after retry_ms";
    } else if (sender->unanswered_sends >= uint64_t(cfg.max_unanswered_sends)) {
        // Each holds its payload until answered: a sender that never
        // waits for SEND_ACKs cannot make the server hold more.
        hf_limit_hit(&srv->conns->limits, hf_limit::unanswered_sends, c->peer);
        code = HF_ERR_RATE_LIMITED;
        text = "more than limits.max_unanswered_sends SENDs wait for their SEND_ACK on this connection; resend after "
               "retry_ms";
        retry_ms = std::max<uint64_t>(uint64_t(cfg.ack_wait_ms), 1);
    } else if (sender->revocation_unchecked) {
        // Whether it is revoked is not known yet: nothing it sends is taken.
        code = HF_ERR_STORE_UNAVAILABLE;
        text = "the store cannot check this device yet; resend later";
        retry_ms = store_retry_of(cfg, code);
    } else if (target_device(sender, m->to, &device, &code, &text) && check_fields(cfg, &req, &code, &text)) {
        auto *p = new hf_pending_send;
        p->sender = c;
        p->sender_session = sender;
        sender->unanswered_sends++;
        hf_conn_ref(c);
        start_send(r, &req, device, p);
        return;
    }
    srv->stats->messages_rejected[code]++;
    send_ack(c, m->id, HF_SEND_REJECTED, code, text, retry_ms, nullptr);
}

void hf_router_submit(hf_router *r, const hf_send_request *m, hf_send_answer_fn answer_fn, void *answer_arg)
{
    hf_server *srv = r->srv;
    srv->stats->messages_received++;
    int code = HF_OK;
    std::string text;
    if (m->to != "*" && !hf_name_valid(m->to)) {
        code = HF_ERR_BAD_TARGET;
        text = "\"to\" must be a device name (1-64 of A-Z a-z 0-9 . _ - @) or \"*\"";
    }
    if (code != HF_OK || !check_fields(*srv->cfg, m, &code, &text)) {
        srv->stats->messages_rejected[code]++;
        hf_send_outcome o{HF_SEND_REJECTED, code, text.c_str(), 0, 0, 1, 0};
        answer_fn(answer_arg, &o);
        return;
    }
    auto *p = new hf_pending_send;
    p->answer_fn = answer_fn;
    p->answer_arg = answer_arg;
    start_send(r, m, m->to, p);
}

void hf_router_acknowledged(hf_router *r, hf_session *target, uint64_t upto)
{
    auto found = r->waiters.find(target);
    if (found == r->waiters.end())
        return;
    std::vector<hf_delivery_waiter> &waiters = found->second;
    size_t done = 0;
    bool batch = r->srv->cfg->ack_batch_ms > 0;
    while (done < waiters.size() && waiters[done].seq <= upto) {
        const hf_delivery_waiter &w = waiters[done];
        hf_target_copy *t = w.copy;
        t->waiting = false;
        done++;
        // Delivered only if this connection sent the target this very
        // message as that seq. A store whose seqs forked (a Redis primary
        // cut off from the others, and its promoted replica) can show the
        // target another message as the same seq: the sender was told
        // "delivered" of a message the target never saw, and it was lost
        // (test/nemesis). Then the store's own answer settles it.
        if (!hf_delivery_sent_as(target, w.seq, t->send->from, t->send->msg_id)) {
            r->srv->stats->seq_mismatches++;
            hf_log(HF_LOG_WARNING,
                   "%s/%s acknowledged seq %llu, which it was sent as another message than %s's id %llu (the "
                   "store numbered two messages alike): that one is not counted delivered",
                   t->send->account.c_str(), t->device.c_str(), (unsigned long long)w.seq, t->send->from.c_str(),
                   (unsigned long long)t->send->msg_id);
            if (t->durable)
                settle_copy(t, outcome::stored);
            unref_copy(t);
            continue;
        }
        if (batch) {
            gather_acked(r, t);
        } else {
            settle_copy(t, outcome::delivered);
            unref_copy(t);
        }
    }
    // The entry stays (with its capacity) until the target goes.
    waiters.erase(waiters.begin(), waiters.begin() + long(done));
}

void hf_router_refused(hf_router *r, hf_session *target, uint64_t seq)
{
    auto found = r->waiters.find(target);
    if (found == r->waiters.end() || found->second.empty() || found->second.front().seq != seq)
        return;
    hf_target_copy *t = found->second.front().copy;
    found->second.erase(found->second.begin());
    t->waiting = false;
    // In the target's dead letters: kept, not delivered.
    if (t->durable)
        settle_copy(t, outcome::stored);
    unref_copy(t);
}

void hf_router_target_gone(hf_router *r, hf_session *target)
{
    auto found = r->waiters.find(target);
    if (found == r->waiters.end())
        return;
    std::vector<hf_delivery_waiter> waiters;
    waiters.swap(found->second);
    r->waiters.erase(found);
    for (const hf_delivery_waiter &w : waiters) {
        hf_target_copy *t = w.copy;
        t->waiting = false;
        // Not durable yet: the store's answer settles it ("stored", the
        // target being gone).
        if (t->durable)
            settle_copy(t, outcome::stored);
        unref_copy(t);
    }
}

size_t hf_router_awaiting_ack(const hf_router *r)
{
    return r->awaiting_ack.size();
}
