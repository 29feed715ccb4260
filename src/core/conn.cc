#include "core/conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "core/alloc.h"
#include "proto/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/session.h"
#include "core/ws.h"
#include "net/tls_stream.h"
#include "proto/frame.h"

namespace
{

// A closing connection gets this long to flush its last frames, and then
// this long for the peer to close its side.
const uint64_t flush_ms = 2000;
const uint64_t linger_ms = 1000;
const uint64_t drain_poll_ms = 10;

void arm_timer(hf_conn *c, uint64_t ms)
{
    event_add(c->timer.get(), hf_daemon_timeout(c->d, ms));
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

// The last step: the socket goes, the struct stays until its last ref.
void finish_close(hf_conn *c)
{
    if (c->state == hf_conn_state::closed)
        return;
    if (hf_conn_is_open(c)) {
        if (c->session)
            hf_session_closed(c);
        if (c->registrant)
            hf_alloc_conn_closed(c);
    }
    c->state = hf_conn_state::closed;
    c->out.clear();
    hf_tls_stream_stop(c->tls);
    c->ws = nullptr;  // freed with the filters below
    c->tls = nullptr; // likewise
    event_del(c->timer.get());
    bufferevent_free(c->bev);
    c->bev = nullptr;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->d->open_connections--;
    hf_limits_release(c->d, c->address_key);
    hf_conn_unref(c);
}

// Bytes not yet handed to the kernel, in the WebSocket filter and under it.
size_t unsent(const hf_conn *c)
{
    size_t n = hf_tls_stream_unsent(c->tls);
    if (c->ws)
        n += evbuffer_get_length(bufferevent_get_output(c->bev));
    return n;
}

void start_linger(hf_conn *c)
{
    c->state = hf_conn_state::lingering;
    hf_tls_stream_shutdown(c->tls); // our close_notify; the peer's ends the linger
    arm_timer(c, linger_ms);
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
    if (c->session)
        hf_session_closed(c);
    if (c->registrant)
        hf_alloc_conn_closed(c);
    c->state = hf_conn_state::closing;
    flush(c);
    hf_ws_send_close(c);
    // Linger once the output is flushed, or give up when a peer that
    // stopped reading lets the flush deadline pass. No callback says when
    // the socket's buffer under the TLS filter has drained, so the timer
    // looks.
    c->flush_deadline_ms = hf_mono_ms() + flush_ms;
    if (unsent(c) == 0)
        start_linger(c);
    else
        arm_timer(c, drain_poll_ms);
}

void dispatch(hf_conn *c, const hf_msg *m)
{
    if (c->kind == hf_conn_kind::allocator)
        hf_alloc_on_frame(c, m);
    else
        hf_session_on_frame(c, m);
}

void read_frames(hf_conn *c)
{
    evbuffer *in = bufferevent_get_input(c->bev);
    while (hf_conn_is_open(c) && c->state != hf_conn_state::handshake) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            return;
        uint8_t head[HF_FRAME_HEADER_MAX];
        ev_ssize_t n = evbuffer_copyout(in, head, avail < sizeof head ? avail : sizeof head);
        hf_frame_header hdr;
        int rc = hf_frame_ready(head, size_t(n), avail, c->d->limits.max_body, &hdr);
        if (rc == HF_ERR_NEED_MORE)
            return;
        if (rc != HF_OK) {
            c->d->stats.protocol_errors++;
            hf_conn_fail(c, rc,
                         rc == HF_ERR_FRAME_TOO_LARGE
                             ? "frame body of " + std::to_string(hdr.body_len) + " bytes exceeds max_frame " +
                                   std::to_string(c->d->limits.max_body)
                             : std::string(hf_err_text(rc)) + " in frame header");
            return;
        }
        size_t total = hdr.header_len + size_t(hdr.body_len);
        const uint8_t *frame = evbuffer_pullup(in, ev_ssize_t(total));
        hf_msg m;
        hf_decode_error err;
        rc = hf_msg_decode(hdr.type, hdr.flags, frame + hdr.header_len, size_t(hdr.body_len), &c->d->limits, &m, &err);
        if (rc != HF_OK) {
            c->d->stats.protocol_errors++;
            hf_conn_fail(c, rc, std::string(hf_msg_type_name(hdr.type)) + ": " + hf_decode_error_text(&err));
            return;
        }
        c->last_rx_ms = hf_mono_ms();
        uint64_t wait_ms;
        if (!hf_bucket_take(&c->frame_bucket, uint64_t(c->d->cfg.frame_rate), uint64_t(c->d->cfg.frame_burst),
                            c->last_rx_ms, &wait_ms)) {
            hf_limit_hit(c->d, hf_limit::frame_rate, c->peer);
            hf_conn_fail(c, HF_ERR_RATE_LIMITED, "more frames than limits.frame_rate allows");
            return;
        }
        dispatch(c, &m);
        evbuffer_drain(in, total);
    }
}

void on_read(bufferevent *, void *arg)
{
    auto *c = static_cast<hf_conn *>(arg);
    hf_conn_ref(c);
    if (c->state == hf_conn_state::handshake && c->kind == hf_conn_kind::websocket)
        hf_ws_read_upgrade(c);
    else
        read_frames(c);
    if (hf_ws_peer_closed(c))
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

void on_event(bufferevent *, short what, void *arg)
{
    auto *c = static_cast<hf_conn *>(arg);
    if (what & BEV_EVENT_CONNECTED) {
        if (c->state == hf_conn_state::handshake && !c->tls_up) {
            c->tls_up = true;
            c->d->stats.tls_handshakes++;
            if (hf_tls_stream_resumed(c->tls))
                c->d->stats.tls_resumed++;
            if (hf_tls_stream_detached(c->tls))
                c->d->stats.tls_detached++;
            if (c->kind == hf_conn_kind::websocket)
                return; // the HTTP upgrade comes next, within the same deadline
            c->state = hf_conn_state::hello;
            arm_timer(c, uint64_t(c->d->cfg.hello_timeout_ms));
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (c->state == hf_conn_state::handshake && !c->tls_up)
            c->d->stats.tls_handshake_failures++;
        if (*hf_tls_stream_error(c->tls))
            hf_log(HF_LOG_DEBUG, "conn %llu %s: TLS: %s", (unsigned long long)c->id, c->peer,
                   hf_tls_stream_error(c->tls));
        hf_conn_ref(c);
        finish_close(c);
        hf_conn_unref(c);
    }
}

void on_timer(evutil_socket_t, short, void *arg)
{
    auto *c = static_cast<hf_conn *>(arg);
    hf_conn_ref(c);
    switch (c->state) {
    case hf_conn_state::handshake:
        if (!c->tls_up)
            c->d->stats.tls_handshake_failures++;
        hf_log(HF_LOG_DEBUG, "conn %llu %s: %s timed out", (unsigned long long)c->id, c->peer,
               c->tls_up ? "WebSocket upgrade" : "TLS handshake");
        finish_close(c);
        break;
    case hf_conn_state::hello:
        hf_conn_fail(c, HF_ERR_TIMEOUT,
                     c->kind == hf_conn_kind::allocator ? "no ALLOC_REQ within limits.hello_timeout"
                                                        : "no HELLO within limits.hello_timeout");
        break;
    case hf_conn_state::ready: {
        uint64_t silent = hf_mono_ms() - c->last_rx_ms;
        if (silent < c->heartbeat_timeout_ms) {
            // Traffic came since the timer was set: wait out the rest.
            timeval tv = {time_t((c->heartbeat_timeout_ms - silent) / 1000),
                          suseconds_t((c->heartbeat_timeout_ms - silent) % 1000 * 1000)};
            event_add(c->timer.get(), &tv);
            break;
        }
        c->d->stats.heartbeat_timeouts++;
        if (c->session && c->d->heartbeat->on_timeout)
            c->d->heartbeat->on_timeout(c->d->heartbeat_instance, hf_session_granted_ms(c->session.get()));
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

} // namespace

void hf_conn_ref(hf_conn *c)
{
    c->refs++;
}

void hf_conn_unref(hf_conn *c)
{
    if (--c->refs == 0)
        delete c;
}

void hf_conn_accept(hf_daemon *d, evutil_socket_t fd, const sockaddr *addr, int, hf_conn_kind kind)
{
    std::string address_key;
    if (!hf_limits_admit(d, addr, &address_key)) {
        evutil_closesocket(fd);
        return;
    }
    // Frames are small and answered at once: Nagle would hold a WELCOME or
    // a DELIVER behind an unacknowledged TLS record for a delayed ACK (40 ms).
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    hf_tls_stream *tls = nullptr;
    bufferevent *bev = hf_tls_stream_accept(d->base.get(), fd, d->tls.get(), d->tls_aead.get(), &tls);
    if (!bev) {
        hf_log(HF_LOG_ERROR, "cannot start a TLS connection (out of memory?); dropping a new connection");
        hf_limits_release(d, address_key);
        return;
    }
    auto *c = new hf_conn;
    c->d = d;
    c->id = d->next_conn_id++;
    c->kind = kind;
    c->bev = bev;
    c->tls = tls;
    c->address_key = std::move(address_key);
    c->next = d->conns;
    if (d->conns)
        d->conns->prev = c;
    d->conns = c;
    format_peer(addr, c->peer, sizeof c->peer);
    c->timer.reset(event_new(d->base.get(), -1, 0, on_timer, c));
    d->open_connections++;
    d->stats.connections_accepted++;
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    arm_timer(c, uint64_t(d->cfg.handshake_timeout_ms));
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
    c->d->flush_queue.push_back(c);
    if (c->d->flush_queue.size() == 1)
        event_active(c->d->flush_event.get(), EV_TIMEOUT, 0);
}

void hf_conn_flush_queued(evutil_socket_t, short, void *arg)
{
    auto *d = static_cast<hf_daemon *>(arg);
    std::vector<hf_conn *> queued;
    queued.swap(d->flush_queue);
    for (hf_conn *c : queued) {
        c->out_queued = false;
        if (c->state != hf_conn_state::closed)
            flush(c);
        hf_conn_unref(c);
    }
}

void hf_conn_fail(hf_conn *c, int code, const std::string &text)
{
    if (!hf_conn_is_open(c))
        return;
    hf_log(HF_LOG_INFO, "conn %llu %s: %s: %s", (unsigned long long)c->id, c->peer, hf_err_name(code), text.c_str());
    hf_msg m;
    m.type = HF_MSG_ERROR;
    m.code = uint64_t(code);
    m.text = text;
    hf_msg_set(&m, HF_TAG_CODE);
    hf_msg_set(&m, HF_TAG_TEXT);
    hf_conn_send(c, &m);
    begin_close(c, hf_err_name(code));
}

void hf_conn_close(hf_conn *c, const char *why)
{
    begin_close(c, why);
}

void hf_conn_close_all(hf_daemon *d)
{
    while (d->conns) {
        hf_conn *c = d->conns;
        hf_conn_ref(c);
        finish_close(c);
        hf_conn_unref(c);
    }
    hf_conn_flush_queued(-1, 0, d); // every one is closed: this only drops the queue's references
}

void hf_conn_upgraded(hf_conn *c, bufferevent *filter)
{
    c->bev = filter;
    bufferevent_setcb(filter, on_read, on_write, on_event, c);
    bufferevent_enable(filter, EV_READ | EV_WRITE);
    c->state = hf_conn_state::hello;
    arm_timer(c, uint64_t(c->d->cfg.hello_timeout_ms));
}

void hf_conn_set_ready(hf_conn *c, uint64_t heartbeat_timeout_ms)
{
    c->state = hf_conn_state::ready;
    c->heartbeat_timeout_ms = heartbeat_timeout_ms;
    arm_timer(c, heartbeat_timeout_ms);
}
