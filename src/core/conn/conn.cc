#include "core/conn/conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "core/common/log.h"
#include "net/frame_reader.h"
#include "net/tls_stream.h"
#include "net/ws_stream.h"
#include "proto/build.h"
#include "proto/clock.h"
#include "proto/ws.h"

namespace
{

// A closing connection gets this long to flush its last frames, and then
// this long for the peer to close its side.
const uint64_t flush_ms = 2000;
const uint64_t linger_ms = 1000;
const uint64_t drain_poll_ms = 10;

const char *state_names[] = {"handshake", "upgrade", "hello", "ready", "closing", "lingering", "closed"};

void arm_timer(hf_conn *c, uint64_t ms)
{
    hf_timeout_arm(c->pool->timeouts, c->timer.get(), ms);
}

// Every state change: traced, and the new state's deadline armed. The
// upgrade state keeps the handshake's deadline; closed has none.
void set_state(hf_conn *c, hf_conn_state next)
{
    if (c->state != next && hf_log_enabled(HF_LOG_DEBUG))
        hf_log(HF_LOG_DEBUG, "conn %llu %s: %s -> %s", (unsigned long long)c->id, c->peer, state_names[int(c->state)],
               state_names[int(next)]);
    c->state = next;
    const hf_config *cfg = c->pool->cfg;
    switch (next) {
    case hf_conn_state::handshake:
        arm_timer(c, uint64_t(cfg->handshake_timeout_ms));
        break;
    case hf_conn_state::upgrade:
        break;
    case hf_conn_state::hello:
        arm_timer(c, uint64_t(cfg->hello_timeout_ms));
        break;
    case hf_conn_state::ready:
        arm_timer(c, c->heartbeat_timeout_ms);
        break;
    case hf_conn_state::closing:
        arm_timer(c, drain_poll_ms);
        break;
    case hf_conn_state::lingering:
        arm_timer(c, linger_ms);
        break;
    case hf_conn_state::closed:
        event_del(c->timer.get());
        break;
    }
}

void format_peer(const sockaddr *addr, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (addr->sa_family == AF_INET) {
        auto *in = reinterpret_cast<const sockaddr_in *>(addr);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (addr->sa_family == AF_INET6) {
        auto *in6 = reinterpret_cast<const sockaddr_in6 *>(addr);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, len, addr->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

// The handler hears once that the connection is no longer open.
void tell_closed(hf_conn *c)
{
    if (hf_conn_is_open(c) && c->handler->on_closed)
        c->handler->on_closed(c);
}

// The last step: the socket goes, the struct stays until its last ref.
void finish_close(hf_conn *c)
{
    if (c->state == hf_conn_state::closed)
        return;
    tell_closed(c);
    set_state(c, hf_conn_state::closed);
    c->out.clear();
    if (c->tls)
        hf_tls_stream_stop(c->tls);
    c->ws = nullptr;  // freed with the filters below
    c->tls = nullptr; // likewise
    bufferevent_free(c->bev);
    c->bev = nullptr;
    hf_conn_pool *p = c->pool;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->open--;
    if (c->over_limit != hf_limit::count)
        p->refusing--;
    hf_limit_release(&p->limits, c->address_key);
    hf_conn_unref(c);
}

// Bytes not yet handed to the kernel, in the WebSocket filter and under it.
size_t unsent(const hf_conn *c)
{
    if (!c->tls) // attached (hf_conn_attach): its own buffer only
        return evbuffer_get_length(bufferevent_get_output(c->bev));
    size_t n = hf_tls_stream_unsent(c->tls);
    if (c->ws)
        n += evbuffer_get_length(bufferevent_get_output(c->bev));
    return n;
}

void start_linger(hf_conn *c)
{
    set_state(c, hf_conn_state::lingering);
    if (c->tls)
        hf_tls_stream_shutdown(c->tls); // our close_notify; the peer's ends the linger
}

void flush(hf_conn *c)
{
    if (c->out.empty())
        return;
    bufferevent_write(c->bev, c->out.data(), c->out.size());
    c->out.clear();
    // A burst's buffer is not kept by a connection that goes idle.
    if (c->out.capacity() > 64 * 1024)
        c->out.shrink_to_fit();
}

void begin_close(hf_conn *c, const char *why)
{
    if (!hf_conn_is_open(c))
        return;
    hf_log(HF_LOG_DEBUG, "conn %llu %s: closing: %s", (unsigned long long)c->id, c->peer, why);
    tell_closed(c);
    // Linger once the output is flushed, or give up when a peer that
    // stopped reading lets the flush deadline pass. No callback says when
    // the socket's buffer under the TLS filter has drained, so the closing
    // state's timer looks.
    set_state(c, hf_conn_state::closing);
    flush(c);
    if (c->ws)
        hf_ws_stream_close(c->ws, c->pool->going_away                ? HF_WS_CLOSE_GOING_AWAY
                                  : c->over_limit != hf_limit::count ? HF_WS_CLOSE_TRY_AGAIN
                                                                     : HF_WS_CLOSE_NORMAL);
    c->flush_deadline_ms = hf_mono_ms() + flush_ms;
    if (unsent(c) == 0)
        start_linger(c);
}

// A control record (a TLS KeyUpdate, a WebSocket ping) costs a frame's
// token: a peer cannot flood the reactor with what carries no frame.
bool take_control_token(void *arg)
{
    auto *c = static_cast<hf_conn *>(arg);
    hf_conn_pool *p = c->pool;
    uint64_t wait_ms;
    if (hf_token_bucket_take(&c->frame_bucket, uint64_t(p->cfg->frame_rate), uint64_t(p->cfg->frame_burst),
                             hf_mono_ms(), &wait_ms))
        return true;
    hf_limit_hit(&p->limits, hf_limit::frame_rate, c->peer);
    return false;
}

void read_frames(hf_conn *c)
{
    hf_conn_pool *p = c->pool;
    evbuffer *in = bufferevent_get_input(c->bev);
    while (c->state == hf_conn_state::hello || c->state == hf_conn_state::ready) {
        hf_msg m;
        size_t frame_len = 0;
        std::string why;
        // A peer not yet known cannot make the server hold max_frame.
        bool before_hello = c->state == hf_conn_state::hello;
        int rc = hf_frame_next(in, before_hello ? &p->hello_decode : &p->decode, &m, &frame_len, &why);
        if (rc == HF_ERR_NEED_MORE)
            return;
        if (rc == HF_ERR_FRAME_TOO_LARGE && before_hello)
            why += " before HELLO (limits.hello_max_frame)";
        if (rc != HF_OK) {
            p->stats->protocol_errors++;
            hf_conn_fail(c, rc, why);
            return;
        }
        c->last_rx_ms = hf_mono_ms();
        uint64_t wait_ms;
        if (!hf_token_bucket_take(&c->frame_bucket, uint64_t(p->cfg->frame_rate), uint64_t(p->cfg->frame_burst),
                                  c->last_rx_ms, &wait_ms)) {
            hf_limit_hit(&p->limits, hf_limit::frame_rate, c->peer);
            hf_conn_fail(c, HF_ERR_RATE_LIMITED, "more frames than limits.frame_rate allows");
            return;
        }
        c->handler->on_frame(c, &m);
        evbuffer_drain(in, frame_len);
    }
}

void on_read(bufferevent *, void *arg)
{
    auto *c = static_cast<hf_conn *>(arg);
    hf_conn_ref(c);
    if (c->state == hf_conn_state::upgrade)
        c->handler->on_upgrade_read(c);
    else
        read_frames(c);
    if (c->ws && hf_ws_stream_done(c->ws))
        hf_conn_close(c, "WebSocket closed by the peer");
    if (!hf_conn_is_open(c)) {
        // Anything after the frame that closed us is read and dropped.
        if (c->bev)
            evbuffer_drain(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
    }
    hf_conn_unref(c);
}

void on_write(bufferevent *, void *arg)
{
    auto *c = static_cast<hf_conn *>(arg);
    // Callbacks are deferred: this one may report a drain from before the
    // last frame was queued, so look at the buffer itself.
    if (c->state == hf_conn_state::closing && unsent(c) == 0)
        start_linger(c);
}

// The hello state. A connection past a connection limit was taken only
// for this: it is told which limit, and when to come back (the backoff
// base hinted to clients), in a frame a device or a browser can report,
// instead of a close at accept that it could not tell from a network
// failure. Not logged each time: the limit's hits are.
void enter_hello(hf_conn *c)
{
    set_state(c, hf_conn_state::hello);
    if (c->over_limit == hf_limit::count)
        return;
    std::string text = std::string(hf_limit_key(c->over_limit)) + " reached; try again later";
    hf_msg m = hf_msg_error(HF_ERR_TOO_MANY_CONNECTIONS, text);
    hf_msg_add_retry(&m, uint64_t(c->pool->cfg->backoff_base_ms));
    hf_conn_send(c, &m);
    begin_close(c, "too_many_connections");
}

void on_event(bufferevent *, short what, void *arg)
{
    auto *c = static_cast<hf_conn *>(arg);
    hf_stats *stats = c->pool->stats;
    if (what & BEV_EVENT_CONNECTED) {
        if (c->state == hf_conn_state::handshake) {
            stats->tls_handshakes++;
            if (hf_tls_stream_resumed(c->tls))
                stats->tls_resumed++;
            if (hf_tls_stream_detached(c->tls))
                stats->tls_detached++;
            if (c->handler->on_upgrade_read)
                set_state(c, hf_conn_state::upgrade);
            else
                enter_hello(c);
            // What came with the handshake's last flight waits for no
            // further read event.
            if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
                on_read(c->bev, c);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (c->state == hf_conn_state::handshake)
            stats->tls_handshake_failures++;
        bool alerted = c->tls && *hf_tls_stream_error(c->tls) && (what & BEV_EVENT_ERROR);
        if (alerted)
            hf_log(HF_LOG_DEBUG, "conn %llu %s: TLS: %s", (unsigned long long)c->id, c->peer,
                   hf_tls_stream_error(c->tls));
        hf_conn_ref(c);
        // The TLS layer sent an alert and shut our side: linger as after
        // an ERROR, reading what the peer still sends until it closes, so
        // that a reset does not destroy the alert before it is read.
        if (alerted && c->state != hf_conn_state::lingering && c->state != hf_conn_state::closed) {
            tell_closed(c);
            c->out.clear();
            set_state(c, hf_conn_state::lingering);
        } else {
            finish_close(c);
        }
        hf_conn_unref(c);
    }
}

void on_timer(evutil_socket_t, short, void *arg)
{
    auto *c = static_cast<hf_conn *>(arg);
    hf_conn_ref(c);
    switch (c->state) {
    case hf_conn_state::handshake:
    case hf_conn_state::upgrade:
        if (c->state == hf_conn_state::handshake)
            c->pool->stats->tls_handshake_failures++;
        hf_log(HF_LOG_DEBUG, "conn %llu %s: %s timed out", (unsigned long long)c->id, c->peer,
               c->state == hf_conn_state::upgrade ? "WebSocket upgrade" : "TLS handshake");
        finish_close(c);
        break;
    case hf_conn_state::hello:
        hf_conn_fail(c, HF_ERR_TIMEOUT, c->handler->hello_timeout_text);
        break;
    case hf_conn_state::ready: {
        uint64_t silent = hf_mono_ms() - c->last_rx_ms;
        if (silent < c->heartbeat_timeout_ms) {
            // Traffic came since the timer was set: wait out the rest.
            timeval rest = hf_timeval_ms(c->heartbeat_timeout_ms - silent);
            event_add(c->timer.get(), &rest);
            break;
        }
        c->pool->stats->heartbeat_timeouts++;
        if (c->handler->on_heartbeat_timeout)
            c->handler->on_heartbeat_timeout(c);
        hf_conn_fail(c, HF_ERR_TIMEOUT, "no frame within the heartbeat timeout");
        break;
    }
    case hf_conn_state::closing: // flushed under a WebSocket filter, or the flush deadline passed
        if (unsent(c) == 0)
            start_linger(c);
        else if (hf_mono_ms() < c->flush_deadline_ms)
            arm_timer(c, drain_poll_ms);
        else
            finish_close(c);
        break;
    case hf_conn_state::lingering: // the peer did not close in time
        finish_close(c);
        break;
    case hf_conn_state::closed:
        break;
    }
    hf_conn_unref(c);
}

// The flush event's callback: writes every connection's queued frames.
void flush_queued(evutil_socket_t, short, void *arg)
{
    auto *p = static_cast<hf_conn_pool *>(arg);
    std::vector<hf_conn *> queued;
    queued.swap(p->flush_queue);
    for (hf_conn *c : queued) {
        c->out_queued = false;
        if (c->state != hf_conn_state::closed)
            flush(c);
        hf_conn_unref(c);
    }
}

// A new open connection over bev, listed in the pool and read.
hf_conn *open_conn(hf_conn_pool *p, bufferevent *bev, const hf_conn_handler *handler, void *handler_ctx)
{
    auto *c = new hf_conn;
    c->pool = p;
    c->id = p->next_id++;
    c->handler = handler;
    c->handler_ctx = handler_ctx;
    c->bev = bev;
    c->next = p->list;
    if (p->list)
        p->list->prev = c;
    p->list = c;
    c->timer.reset(event_new(p->base, -1, 0, on_timer, c));
    p->open++;
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return c;
}

} // namespace

void hf_conn_ref(hf_conn *c)
{
    c->refs++;
}

void hf_conn_unref(hf_conn *c)
{
    if (--c->refs > 0)
        return;
    if (c->handler->on_free)
        c->handler->on_free(c);
    delete c;
}

void hf_conn_pool_apply_limits(hf_conn_pool *p)
{
    p->decode.max_body = size_t(p->cfg->max_frame);
    p->decode.max_fields = size_t(p->cfg->max_fields);
    p->hello_decode = p->decode;
    p->hello_decode.max_body = std::min(p->decode.max_body, size_t(p->cfg->hello_max_frame));
}

void hf_conn_pool_init(hf_conn_pool *p)
{
    p->limits.cfg = p->cfg;
    hf_conn_pool_apply_limits(p);
    p->flush_event.reset(event_new(p->base, -1, 0, flush_queued, p));
}

void hf_conn_accept(hf_conn_pool *p, evutil_socket_t fd, const sockaddr *addr, const hf_conn_handler *handler,
                    void *handler_ctx)
{
    std::string address_key;
    hf_limit over_limit = hf_limit_admit(&p->limits, p->open - p->refusing, addr, &address_key);
    if (over_limit != hf_limit::count && p->refusing >= uint64_t(p->cfg->refusals)) {
        evutil_closesocket(fd); // too many told already: this one learns nothing
        return;
    }
    // Frames are small and answered at once: Nagle would hold a WELCOME or
    // a DELIVER behind an unacknowledged TLS record for a delayed ACK (40 ms).
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    hf_tls_stream *tls = nullptr;
    bufferevent *bev = hf_tls_stream_accept(p->base, fd, p->tls, p->tls_aead, &tls);
    if (!bev) {
        hf_log(HF_LOG_ERROR, "cannot start a TLS connection (out of memory?); dropping a new connection");
        hf_limit_release(&p->limits, address_key);
        return;
    }
    hf_conn *c = open_conn(p, bev, handler, handler_ctx);
    c->tls = tls;
    c->address_key = std::move(address_key);
    c->over_limit = over_limit;
    if (over_limit != hf_limit::count)
        p->refusing++;
    format_peer(addr, c->peer, sizeof c->peer);
    p->stats->connections_accepted++;
    hf_tls_stream_set_control_hook(tls, take_control_token, c);
    set_state(c, hf_conn_state::handshake);
}

hf_conn *hf_conn_attach(hf_conn_pool *p, bufferevent *bev, const char *peer, const hf_conn_handler *handler,
                        void *handler_ctx)
{
    hf_conn *c = open_conn(p, bev, handler, handler_ctx);
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    enter_hello(c);
    return c;
}

void hf_conn_send(hf_conn *c, const hf_msg *m)
{
    if (c->state == hf_conn_state::lingering || c->state == hf_conn_state::closed)
        return; // our side is shut already
    size_t before = c->out.size();
    if (hf_msg_encode(m, &c->out) != HF_OK) {
        c->out.resize(before);
        hf_log(HF_LOG_ERROR, "internal: cannot encode %s; please report this", hf_msg_type_name(m->type));
        return;
    }
    if (c->out_queued)
        return;
    c->out_queued = true;
    hf_conn_ref(c); // released by the flush
    hf_conn_pool *p = c->pool;
    p->flush_queue.push_back(c);
    if (p->flush_queue.size() == 1)
        event_active(p->flush_event.get(), EV_TIMEOUT, 0);
}

void hf_conn_fail(hf_conn *c, int code, const std::string &text)
{
    if (!hf_conn_is_open(c))
        return;
    hf_log(HF_LOG_INFO, "conn %llu %s: %s: %s", (unsigned long long)c->id, c->peer, hf_err_name(code), text.c_str());
    hf_msg m = hf_msg_error(code, text);
    hf_conn_send(c, &m);
    begin_close(c, hf_err_name(code));
}

void hf_conn_close(hf_conn *c, const char *why)
{
    begin_close(c, why);
}

void hf_conn_close_all(hf_conn_pool *p)
{
    while (p->list) {
        hf_conn *c = p->list;
        hf_conn_ref(c);
        finish_close(c);
        hf_conn_unref(c);
    }
    flush_queued(-1, 0, p); // every one is closed: this only drops the queue's references
}

void hf_conn_upgraded(hf_conn *c, bufferevent *filter, hf_ws_stream *ws, const hf_conn_handler *handler,
                      void *handler_ctx)
{
    c->bev = filter;
    c->ws = ws;
    hf_ws_stream_set_control_hook(ws, take_control_token, c);
    c->handler = handler;
    c->handler_ctx = handler_ctx;
    bufferevent_setcb(filter, on_read, on_write, on_event, c);
    bufferevent_enable(filter, EV_READ | EV_WRITE);
    enter_hello(c);
}

void hf_conn_set_ready(hf_conn *c, uint64_t heartbeat_timeout_ms)
{
    c->heartbeat_timeout_ms = heartbeat_timeout_ms;
    set_state(c, hf_conn_state::ready);
}
