#include "core/ws.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <algorithm>
#include <cstring>

#include "core/conn.h"
#include "core/daemon.h"
#include "core/log.h"
#include "proto/frame.h"
#include "proto/ws.h"

struct hf_ws_stream {
    bufferevent *tls = nullptr; // the TLS bufferevent under the filter
    uint64_t max_message = 0;
    bool in_message = false; // a fragmented binary message has begun
    uint64_t message_len = 0;
    bool close_sent = false;
    bool done = false; // closed by the peer, or framing broken
};

namespace
{

void send_control(hf_ws_stream *ws, uint8_t opcode, const void *payload, size_t len)
{
    std::string frame;
    hf_ws_frame_header_put(&frame, opcode, len);
    frame.append(static_cast<const char *>(payload), len);
    bufferevent_write(ws->tls, frame.data(), frame.size());
}

void close_with(hf_ws_stream *ws, uint16_t code, const char *why)
{
    if (!ws->close_sent) {
        uint8_t payload[2 + 64];
        payload[0] = uint8_t(code >> 8);
        payload[1] = uint8_t(code & 0xff);
        size_t n = std::min(strlen(why), sizeof payload - 2);
        memcpy(payload + 2, why, n);
        send_control(ws, HF_WS_CLOSE, payload, 2 + n);
        ws->close_sent = true;
    }
    ws->done = true;
}

// WebSocket frames in, the protocol's bytes out.
bufferevent_filter_result ws_input(evbuffer *src, evbuffer *dst, ev_ssize_t, bufferevent_flush_mode, void *arg)
{
    auto *ws = static_cast<hf_ws_stream *>(arg);
    bool produced = false;
    while (!ws->done) {
        uint8_t head[14];
        ev_ssize_t n = evbuffer_copyout(src, head, sizeof head);
        hf_ws_frame_header h;
        int rc = hf_ws_frame_header_parse(head, size_t(n < 0 ? 0 : n), &h);
        if (rc == HF_ERR_NEED_MORE)
            break;
        if (rc != HF_OK || !h.masked) {
            close_with(ws, HF_WS_CLOSE_PROTOCOL_ERROR,
                       rc != HF_OK ? "bad frame header" : "client frames must be masked");
            break;
        }
        bool data = h.opcode == HF_WS_BINARY || h.opcode == HF_WS_CONTINUATION;
        if (h.opcode == HF_WS_TEXT) {
            close_with(ws, HF_WS_CLOSE_UNSUPPORTED, "binary messages only");
            break;
        }
        if (data && (h.opcode == HF_WS_CONTINUATION) != ws->in_message) {
            close_with(ws, HF_WS_CLOSE_PROTOCOL_ERROR, ws->in_message ? "message not finished" : "nothing to continue");
            break;
        }
        if (data && (ws->message_len + h.payload_len > ws->max_message)) {
            close_with(ws, HF_WS_CLOSE_TOO_BIG, "message larger than limits.max_frame");
            break;
        }
        if (evbuffer_get_length(src) < h.header_len + h.payload_len)
            break; // the whole frame first
        evbuffer_drain(src, h.header_len);
        size_t len = size_t(h.payload_len);
        uint8_t *payload = len ? evbuffer_pullup(src, ev_ssize_t(len)) : nullptr;
        hf_ws_unmask(payload, len, h.mask, 0);
        if (data) {
            evbuffer_remove_buffer(src, dst, len);
            produced = produced || len > 0;
            ws->in_message = !h.fin;
            ws->message_len = h.fin ? 0 : ws->message_len + h.payload_len;
            continue;
        }
        if (h.opcode == HF_WS_PING)
            send_control(ws, HF_WS_PONG, payload, len);
        if (h.opcode == HF_WS_CLOSE) {
            // Echo the peer's code (RFC 6455 section 5.5.1).
            uint16_t code = len >= 2 ? uint16_t(payload[0] << 8 | payload[1]) : uint16_t(HF_WS_CLOSE_NORMAL);
            close_with(ws, code, "");
        }
        evbuffer_drain(src, len);
    }
    if (ws->done)
        evbuffer_drain(src, evbuffer_get_length(src));
    // BEV_OK when closed too, so the connection's read callback runs and
    // sees it.
    return produced || ws->done ? BEV_OK : BEV_NEED_MORE;
}

// The protocol's frames out, one binary message each.
bufferevent_filter_result ws_output(evbuffer *src, evbuffer *dst, ev_ssize_t, bufferevent_flush_mode, void *)
{
    bool produced = false;
    std::string header;
    for (;;) {
        size_t avail = evbuffer_get_length(src);
        uint8_t head[HF_FRAME_HEADER_MAX];
        ev_ssize_t n = evbuffer_copyout(src, head, std::min(avail, sizeof head));
        hf_frame_header hdr;
        // Our own frames: whole and well formed, whatever their size.
        if (n <= 0 || hf_frame_ready(head, size_t(n), avail, UINT64_MAX, &hdr) != HF_OK)
            break;
        size_t total = hdr.header_len + size_t(hdr.body_len);
        header.clear();
        hf_ws_frame_header_put(&header, HF_WS_BINARY, total);
        evbuffer_add(dst, header.data(), header.size());
        evbuffer_remove_buffer(src, dst, total);
        produced = true;
    }
    return produced ? BEV_OK : BEV_NEED_MORE;
}

void free_stream(void *arg)
{
    delete static_cast<hf_ws_stream *>(arg);
}

const char *reason_of(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 426:
        return "Upgrade Required";
    default:
        return "Request Header Fields Too Large";
    }
}

void refuse(hf_conn *c, int status, const std::string &why)
{
    std::string body = why + "\n";
    std::string reply = "HTTP/1.1 " + std::to_string(status) + " " + reason_of(status) +
                        "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n";
    if (status == 426)
        reply += "Sec-WebSocket-Version: 13\r\n";
    reply += "\r\n" + body;
    bufferevent_write(c->bev, reply.data(), reply.size());
    hf_log(HF_LOG_DEBUG, "conn %llu %s: WebSocket upgrade refused (%d): %s", (unsigned long long)c->id, c->peer, status,
           why.c_str());
    hf_conn_close(c, "WebSocket upgrade refused");
}

bool origin_allowed(const hf_config &cfg, const std::string &origin)
{
    if (origin.empty())
        return true; // not a browser; the token decides
    for (const std::string &allowed : cfg.websocket_origins)
        if (allowed == "*" || allowed == origin)
            return true;
    return false;
}

} // namespace

void hf_ws_read_upgrade(hf_conn *c)
{
    const hf_config &cfg = c->d->cfg;
    evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, nullptr);
    size_t limit = size_t(cfg.websocket_max_request);
    if (end.pos < 0 || size_t(end.pos) + 4 > limit) {
        if (evbuffer_get_length(in) > limit || (end.pos >= 0 && size_t(end.pos) + 4 > limit))
            refuse(c, 431, "the request is larger than websocket.max_request");
        return;
    }
    std::string head(size_t(end.pos) + 2, '\0');
    evbuffer_remove(in, head.data(), head.size());
    evbuffer_drain(in, 2);
    hf_ws_request req;
    std::string why;
    int status = hf_ws_parse_request(head, &req, &why) ? hf_ws_check_request(&req, cfg.websocket_path, &why) : 400;
    if (status == 0 && !origin_allowed(cfg, req.origin)) {
        status = 403;
        why = "Origin " + req.origin + " is not in websocket.origins";
    }
    if (status != 0) {
        refuse(c, status, why);
        return;
    }
    std::string reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: " +
                        hf_ws_accept_key(req.key) + "\r\n\r\n";
    bufferevent_write(c->bev, reply.data(), reply.size());
    auto *ws = new hf_ws_stream;
    ws->tls = c->bev;
    // A message holds whole frames: the largest frame and its header.
    ws->max_message = uint64_t(cfg.max_frame) + HF_FRAME_HEADER_MAX;
    bufferevent *filter = bufferevent_filter_new(c->bev, ws_input, ws_output,
                                                 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, free_stream, ws);
    if (!filter) {
        delete ws;
        hf_conn_close(c, "cannot create the WebSocket filter");
        return;
    }
    c->ws = ws;
    hf_conn_upgraded(c, filter);
    // Frames the browser sent right behind its request wait in the TLS
    // buffer; no new read would wake the filter for them.
    bufferevent_trigger(ws->tls, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

bool hf_ws_peer_closed(const hf_conn *c)
{
    return c->ws && c->ws->done;
}

void hf_ws_send_close(hf_conn *c)
{
    if (c->ws && !c->ws->close_sent)
        close_with(c->ws, c->d->stopping ? HF_WS_CLOSE_GOING_AWAY : HF_WS_CLOSE_NORMAL, "");
}
