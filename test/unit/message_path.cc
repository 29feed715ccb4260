#include "message_path.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <cstdio>

#include "config_file.h"
#include "core/common/log.h"
#include "core/server/devices.h"
#include "core/server/server_modules.h"
#include "net/frame_reader.h"
#include "proto/build.h"
#include "proto/clock.h"
#include "proto/frame.h"
#include "proto/token.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

bench *current; // the gate's: one bench at a time

// ---- the gate in front of store_memory ----

// What store_memory said of the enqueue in hand (it answers at once).
struct memory_answer {
    int status = -1;
    uint64_t seq = 0;
    int acked = 0;
};

void take_memory_answer(void *arg, int status, uint64_t seq, int acked)
{
    *static_cast<memory_answer *>(arg) = {status, seq, acked};
}

void gate_enqueue(void *store, const hf_store_enqueue_req *req, hf_store_enqueue_cb cb, void *arg)
{
    store_gate &g = current->gate;
    if (g.fail_enqueue != HF_STORE_OK) {
        cb(arg, g.fail_enqueue, 0, 0);
        return;
    }
    if (!g.hold) {
        current->memory_ops->enqueue(store, req, cb, arg);
        return;
    }
    // As a store with a disk: the message is in the queue and fetches see
    // it at once; the completion waits for the sync.
    memory_answer answer;
    current->memory_ops->enqueue(store, req, take_memory_answer, &answer);
    assert_int_not_equal(answer.status, -1);
    g.held.push_back({cb, arg, answer.status, answer.seq, answer.acked});
    if (answer.status == HF_STORE_OK) {
        const hf_host_api &host = current->srv.host;
        host.enqueue_applied(host.host, arg, uint64_t(int64_t(answer.seq) + g.applied_shift));
        host.data_ready(host.host, req->account, req->device);
    }
}

void gate_fetch(void *store, const char *account, const char *device, uint64_t after_seq, uint32_t max_count,
                uint64_t max_bytes, uint64_t now_ms, hf_store_fetch_cb cb, void *arg)
{
    store_gate &g = current->gate;
    if (int status = g.fail_fetch; status != HF_STORE_OK) {
        g.fail_fetch = HF_STORE_OK;
        cb(arg, status, nullptr, 0);
        return;
    }
    current->memory_ops->fetch(store, account, device, after_seq, max_count, max_bytes, now_ms, cb, arg);
}

void gate_add_device(void *store, const char *account, const char *device, hf_store_done_cb cb, void *arg)
{
    if (int status = current->gate.fail_add; status != HF_STORE_OK) {
        current->gate.fail_add = HF_STORE_OK;
        cb(arg, status);
        return;
    }
    current->memory_ops->add_device(store, account, device, cb, arg);
}

void gate_list_devices(void *store, const char *account, hf_store_devices_cb cb, void *arg)
{
    if (current->gate.fail_list != HF_STORE_OK) {
        cb(arg, current->gate.fail_list, nullptr, 0);
        return;
    }
    current->memory_ops->list_devices(store, account, cb, arg);
}

// An ack_sent on its way through store_memory's ack.
struct checked_ack {
    void (*cb)(void *arg, int status, uint64_t forked_seq);
    void *arg;
    uint64_t forked;
};

void gate_ack_sent(void *store, const char *account, const char *device, uint64_t upto_seq, const hf_store_sent *sent,
                   size_t count, void (*cb)(void *arg, int status, uint64_t forked_seq), void *arg)
{
    store_gate &g = current->gate;
    std::string told;
    for (size_t i = 0; i < count; i++)
        told += std::to_string(sent[i].seq) + ":" + sent[i].from + ":" + std::to_string(sent[i].msg_id) + "\n";
    g.acks_sent.push_back(told);
    uint64_t forked = g.fork_at && g.fork_at <= upto_seq ? g.fork_at : 0;
    auto *call = new checked_ack{cb, arg, forked};
    current->memory_ops->ack(
        store, account, device, forked ? forked - 1 : upto_seq,
        [](void *arg, int status) {
            auto *call = static_cast<checked_ack *>(arg);
            call->cb(call->arg, status == HF_STORE_OK && call->forked ? HF_STORE_FORKED : status, call->forked);
            delete call;
        },
        call);
}

// ---- the devices' ends ----

void record_frames(bufferevent *bev, void *arg)
{
    auto *d = static_cast<test_device *>(arg);
    evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        hf_msg m;
        size_t frame_len = 0;
        std::string why;
        int rc = hf_frame_next(in, &d->b->conns.decode, &m, &frame_len, &why);
        if (rc == HF_ERR_NEED_MORE)
            return;
        assert_int_equal(rc, HF_OK);
        auto frame = std::make_unique<recorded_frame>();
        frame->bytes.resize(frame_len);
        evbuffer_remove(in, frame->bytes.data(), frame_len);
        const auto *bytes = reinterpret_cast<const uint8_t *>(frame->bytes.data());
        hf_frame_header hdr;
        hf_decode_error derr;
        assert_int_equal(hf_frame_header_parse(bytes, frame_len, frame_len, &hdr), HF_OK);
        assert_int_equal(hf_msg_decode(hdr.type, hdr.flags, bytes + hdr.header_len, size_t(hdr.body_len),
                                       &d->b->conns.decode, &frame->m, &derr),
                         HF_OK);
        d->got.push_back(std::move(frame));
    }
}

} // namespace

bench *bench_start(const std::string &config_text)
{
    auto *b = new bench;
    current = b;
    hf_log_set_level(HF_LOG_ERROR);
    std::string err;
    std::string text = config_text.find("store = {") == std::string::npos ? "store = { module = \"memory\"; };\n" : "";
    if (!hf_config_load(hf_test_config_file(text + config_text).c_str(), &b->cfg, &err))
        fail_msg("config: %s", err.c_str());
    b->base = event_base_new();
    b->timeouts.base = b->base;
    b->conns.base = b->base;
    b->conns.timeouts = &b->timeouts;
    b->conns.cfg = &b->cfg;
    b->conns.stats = &b->stats;
    hf_conn_pool_init(&b->conns);
    b->srv.cfg = &b->cfg;
    b->srv.stats = &b->stats;
    b->srv.conns = &b->conns;
    if (!hf_server_open(&b->srv, &b->cfg, &err))
        fail_msg("hf_server_open: %s", err.c_str());
    b->memory_ops = b->srv.store.ops;
    b->gated_ops = *b->memory_ops;
    b->gated_ops.enqueue = gate_enqueue;
    b->gated_ops.fetch = gate_fetch;
    b->gated_ops.list_devices = gate_list_devices;
    b->gated_ops.add_device = gate_add_device;
    b->srv.store.ops = &b->gated_ops;
    return b;
}

void bench_stop(bench *b)
{
    gate_release(b);
    hf_router_release_all(b->srv.router);
    hf_conn_close_all(&b->conns);
    for (auto &d : b->devices) {
        bufferevent_free(d->ours);
        hf_conn_unref(d->conn);
    }
    b->devices.clear();
    b->srv.store.ops = b->memory_ops;
    hf_server_close(&b->srv);
    b->conns.flush_event.reset();
    event_base_free(b->base);
    current = nullptr;
    delete b;
}

void bench_settle(bench *b)
{
    // Deferred callbacks and the connections' flush are active events:
    // done when none is left.
    for (int i = 0; i < 1000; i++) {
        event_base_loop(b->base, EVLOOP_NONBLOCK);
        if (event_base_get_num_events(b->base, EVENT_BASE_COUNT_ACTIVE) == 0)
            break;
    }
}

void bench_run_for(bench *b, uint64_t ms)
{
    timeval tv = hf_timeval_ms(ms);
    event_base_loopexit(b->base, &tv);
    event_base_dispatch(b->base);
    bench_settle(b);
}

test_device *device_online(bench *b, const std::string &account, const std::string &name)
{
    auto owned = std::make_unique<test_device>();
    test_device *d = owned.get();
    b->devices.push_back(std::move(owned));
    d->b = b;
    d->account = account;
    d->name = name;
    bufferevent *pair[2];
    assert_int_equal(bufferevent_pair_new(b->base, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, pair), 0);
    d->ours = pair[1];
    bufferevent_setcb(d->ours, record_frames, nullptr, nullptr, d);
    bufferevent_enable(d->ours, EV_READ | EV_WRITE);
    d->conn = hf_conn_attach(&b->conns, pair[0], ("test:" + name).c_str(), &hf_devices_handler, &b->srv);
    hf_conn_ref(d->conn); // kept to look at once closed
    hf_token_claims claims;
    claims.account = account;
    claims.device = name;
    claims.key_id = b->cfg.token_keys[0].id;
    claims.expires_at = hf_wall_ms() / 1000 + 3600;
    std::string token;
    assert_int_equal(hf_token_mint(&claims, b->cfg.token_keys[0].secret, &token), HF_OK);
    hf_msg hello = hf_msg_hello(token, 0);
    device_send(d, &hello);
    device_take(d, HF_MSG_WELCOME);
    return d;
}

void device_send(test_device *d, const hf_msg *m)
{
    std::string frame;
    assert_int_equal(hf_msg_encode(m, &frame), HF_OK);
    bufferevent_write(d->ours, frame.data(), frame.size());
    bench_settle(d->b);
}

void device_send_to(test_device *d, const std::string &to, uint64_t id, const std::string &payload)
{
    hf_msg m = hf_msg_send(to, id, payload, 0, "");
    device_send(d, &m);
}

void device_drop(test_device *d)
{
    bufferevent_flush(d->ours, EV_WRITE, BEV_FINISHED);
    bench_settle(d->b);
}

bool device_cut(const test_device *d)
{
    return !hf_conn_is_open(d->conn);
}

const hf_msg *device_take(test_device *d, uint8_t type)
{
    bench_settle(d->b);
    if (d->got.empty())
        fail_msg("%s/%s got nothing; expected %s", d->account.c_str(), d->name.c_str(), hf_msg_type_name(type));
    d->taken.push_back(std::move(d->got.front()));
    d->got.pop_front();
    const hf_msg *m = &d->taken.back()->m;
    if (m->type != type)
        fail_msg("%s/%s got %s (code %llu, \"%.*s\"); expected %s", d->account.c_str(), d->name.c_str(),
                 hf_msg_type_name(m->type), (unsigned long long)m->code, int(m->text.size()), m->text.data(),
                 hf_msg_type_name(type));
    return m;
}

size_t device_pending(test_device *d)
{
    bench_settle(d->b);
    return d->got.size();
}

void gate_release(bench *b)
{
    std::vector<held_completion> held;
    held.swap(b->gate.held);
    for (const held_completion &h : held)
        h.cb(h.arg, h.status, h.seq, h.acked);
    bench_settle(b);
}

void gate_check_acks(bench *b)
{
    b->gated_ops.ack_sent = gate_ack_sent;
}

void assert_send_ack(const hf_msg *ack, uint64_t id, hf_send_status status, int code, uint64_t delivered,
                     uint64_t stored, uint64_t rejected)
{
    assert_int_equal(ack->type, HF_MSG_SEND_ACK);
    assert_int_equal(ack->id, id);
    assert_int_equal(ack->status, status);
    assert_int_equal(hf_msg_has(ack, HF_TAG_CODE) ? ack->code : uint64_t(HF_OK), code);
    assert_int_equal(ack->delivered_count, delivered);
    assert_int_equal(ack->stored_count, stored);
    assert_int_equal(ack->rejected_count, rejected);
}
