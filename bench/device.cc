#include "bench/device.h"

#include <event2/event.h>

#include <cstdio>

#include "net/link.h"
#include "proto/build.h"

namespace
{

void send_ack_now(evutil_socket_t, short, void *arg)
{
    auto *d = static_cast<bench_device *>(arg);
    if (!d->link || d->ack_upto <= d->acked_upto)
        return;
    hf_msg m = hf_msg_deliver_ack(d->ack_upto);
    hf_link_send(d->link, &m);
    d->acked_upto = d->ack_upto;
}

void on_open(void *arg, hf_link *l)
{
    auto *d = static_cast<bench_device *>(arg);
    std::string token = bench_token(d->ctx, d->account, d->device);
    hf_msg m = hf_msg_hello(token, d->ctx->opt.heartbeat_ms);
    hf_link_send(l, &m);
}

void on_frame(void *arg, hf_link *, const hf_msg *m)
{
    auto *d = static_cast<bench_device *>(arg);
    switch (m->type) {
    case HF_MSG_WELCOME:
        d->ready = true;
        d->events->on_ready(d);
        break;
    case HF_MSG_DELIVER:
        if (d->auto_ack && m->seq > d->ack_upto) {
            d->ack_upto = m->seq;
            // After every frame of this read has been handled: one ack.
            event_active(d->ack_event, EV_TIMEOUT, 0);
        }
        d->events->on_deliver(d, m);
        break;
    case HF_MSG_SEND_ACK:
        d->events->on_send_ack(d, m);
        break;
    case HF_MSG_ERROR:
        fprintf(stderr, "handoff-bench: %s/%s: ERROR %s: %.*s\n", d->account.c_str(), d->device.c_str(),
                hf_err_name(int(m->code)), int(m->text.size()), m->text.data());
        break;
    default: // PONG, GOAWAY: nothing to do
        break;
    }
}

void on_close(void *arg, hf_link *l, hf_link_failure, const char *why)
{
    auto *d = static_cast<bench_device *>(arg);
    hf_link_free(l);
    bool was_ready = d->ready;
    d->link = nullptr;
    d->ready = false;
    d->events->on_closed(d, was_ready, why);
}

const hf_link_callbacks callbacks = {on_open, on_frame, on_close};

} // namespace

bool bench_device_connect(bench_device *d, size_t server)
{
    if (!d->ack_event)
        d->ack_event = event_new(d->ctx->base, -1, 0, send_ack_now, d);
    hf_link_target target;
    target.address = d->ctx->opt.servers[server];
    target.server_name = d->ctx->opt.server_name.c_str();
    target.source_ip = bench_next_source(d->ctx);
    target.session = &d->tls_session;
    target.websocket_path = d->ctx->opt.websocket.empty() ? nullptr : d->ctx->opt.websocket.c_str();
    std::string err;
    d->ack_upto = d->acked_upto = 0;
    d->link = hf_link_open(d->ctx->base, d->ctx->tls, &target, HF_DEFAULT_MAX_FRAME, &callbacks, d, &err);
    if (!d->link)
        fprintf(stderr, "handoff-bench: %s\n", err.c_str());
    return d->link != nullptr;
}

uint64_t bench_device_send(bench_device *d, const char *to, const std::string &payload)
{
    hf_msg m = hf_msg_send(to, d->next_id++, payload, 0, "");
    if (d->link)
        hf_link_send(d->link, &m);
    return m.id;
}

void bench_device_ping(bench_device *d)
{
    hf_msg m;
    m.type = HF_MSG_PING;
    if (d->link)
        hf_link_send(d->link, &m);
}

void bench_device_close(bench_device *d)
{
    hf_link_free(d->link);
    d->link = nullptr;
    d->ready = false;
    if (d->ack_event)
        event_free(d->ack_event);
    d->ack_event = nullptr;
    SSL_SESSION_free(d->tls_session);
    d->tls_session = nullptr;
}
