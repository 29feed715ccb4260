#include "core/ws.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/alloc.h"
#include "core/conn.h"
#include "core/daemon.h"
#include "core/log.h"
#include "core/tokens.h"
#include "proto/frame.h"
#include "proto/ws.h"

struct hf_ws_stream {
    bufferevent *tls = nullptr; // the TLS bufferevent under the filter
    uint64_t max_message = 0;
    bool in_message = false; // a fragmented binary message has begun
    uint64_t message_len = 0;
    bool close_sent = false;
    bool done = false; // closed by the peer, or framing broken
    // Outgoing messages gathered in one flush (see ws_output); kept, so a
    // flush allocates no buffer.
    std::unique_ptr<evbuffer, void (*)(evbuffer *)> gathered{evbuffer_new(), evbuffer_free};
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

// The protocol's frames out, one binary message each. They are gathered
// first and handed down in one piece: the TLS layer below seals what each
// addition brings, so a piece per header would be a record per header.
bufferevent_filter_result ws_output(evbuffer *src, evbuffer *dst, ev_ssize_t, bufferevent_flush_mode, void *arg)
{
    evbuffer *messages = static_cast<hf_ws_stream *>(arg)->gathered.get();
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
        evbuffer_add(messages, header.data(), header.size());
        evbuffer_remove_buffer(src, messages, total);
        produced = true;
    }
    evbuffer_add_buffer(dst, messages);
    return produced ? BEV_OK : BEV_NEED_MORE;
}

void free_stream(void *arg)
{
    delete static_cast<hf_ws_stream *>(arg);
}

const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 401:
        return "Unauthorized";
    case 503:
        return "Service Unavailable";
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

// Answers with status, extra header lines and a body, and closes.
void reply_and_close(hf_conn *c, int status, const std::string &headers, const char *type, const std::string &body)
{
    std::string reply = "HTTP/1.1 " + std::to_string(status) + " " + reason_of(status) + "\r\nContent-Type: " + type +
                        "\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nCache-Control: no-store\r\nConnection: close\r\n" + headers + "\r\n" + body;
    bufferevent_write(c->bev, reply.data(), reply.size());
    hf_conn_close(c, "HTTP request answered");
}

void refuse(hf_conn *c, int status, const std::string &why)
{
    hf_log(HF_LOG_DEBUG, "conn %llu %s: HTTP request refused (%d): %s", (unsigned long long)c->id, c->peer, status,
           why.c_str());
    reply_and_close(c, status, status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", "text/plain", why + "\n");
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

std::string json_string(const std::string &s)
{
    std::string out = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\')
            out += '\\';
        if (static_cast<unsigned char>(ch) >= 0x20)
            out += ch;
    }
    return out + "\"";
}

// The value of name in a query string ("a=1&token=..."); tokens need no
// percent-decoding (base64url and dots).
std::string query_value(const std::string &target, const std::string &name)
{
    size_t q = target.find('?');
    std::string_view query = q == std::string::npos ? "" : std::string_view(target).substr(q + 1);
    while (!query.empty()) {
        std::string_view pair = query.substr(0, query.find('&'));
        if (pair.substr(0, name.size() + 1) == name + "=")
            return std::string(pair.substr(name.size() + 1));
        query.remove_prefix(std::min(query.size(), pair.size() + 1));
    }
    return "";
}

// GET websocket.allocate_path?token=T: the wss:// URLs for the token's
// account, best first, as JSON; readable by the allowed web pages (CORS).
void answer_allocate(hf_conn *c, const hf_ws_request &req)
{
    hf_daemon *d = c->d;
    std::string cors;
    if (!req.origin.empty())
        cors = "Access-Control-Allow-Origin: " + req.origin + "\r\nVary: Origin\r\n";
    auto fail = [&](int status, const char *code, const std::string &text) {
        reply_and_close(c, status, cors, "application/json",
                        "{\"error\": " + json_string(code) + ", \"text\": " + json_string(text) +
                            ", \"retry_ms\": " + std::to_string(d->cfg.backoff_base_ms) + "}\n");
    };
    if (d->cfg.role == hf_role::server) {
        fail(404, "not_allocator", "this server hands out no addresses; ask an allocator");
        return;
    }
    hf_token_claims claims;
    int rc = hf_tokens_verify(d, query_value(req.path, "token"), &claims);
    if (rc != HF_OK) {
        fail(401, hf_err_name(rc), "the token parameter is missing or not valid here");
        return;
    }
    std::vector<std::string> urls;
    if (!hf_alloc_addresses(d, claims.account, true, &urls)) {
        fail(503, "no_server", "no server with a WebSocket listener is available; try again later");
        return;
    }
    std::string body = "{\"addresses\": [";
    for (size_t i = 0; i < urls.size(); i++)
        body += (i ? ", " : "") + json_string(urls[i]);
    body += "], \"backoff_base_ms\": " + std::to_string(d->cfg.backoff_base_ms) +
            ", \"backoff_cap_ms\": " + std::to_string(d->cfg.backoff_cap_ms) + "}\n";
    d->stats.alloc_answers++;
    reply_and_close(c, 200, cors, "application/json", body);
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
    if (!hf_ws_parse_request(head, &req, &why)) {
        refuse(c, 400, why);
        return;
    }
    if (!origin_allowed(cfg, req.origin)) {
        refuse(c, 403, "Origin " + req.origin + " is not in websocket.origins");
        return;
    }
    if (req.method == "GET" && req.path.substr(0, req.path.find('?')) == cfg.websocket_allocate_path) {
        answer_allocate(c, req);
        return;
    }
    int status = hf_ws_check_request(&req, cfg.websocket_path, &why);
    if (status == 0 && cfg.role == hf_role::allocator) {
        status = 404;
        why = "an allocator holds no devices; GET " + cfg.websocket_allocate_path + " for servers";
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
    bufferevent *filter = ws->gathered
                              ? bufferevent_filter_new(c->bev, ws_input, ws_output,
                                                       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, free_stream, ws)
                              : nullptr;
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
