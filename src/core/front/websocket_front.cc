#include "core/front/websocket_front.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <algorithm>

#include "core/allocator/allocation.h"
#include "core/common/log.h"
#include "core/common/token_check.h"
#include "core/server/devices.h"
#include "net/ws_stream.h"
#include "proto/frame.h"
#include "proto/ws.h"

namespace
{

hf_websocket_front *front_of(const hf_conn *c)
{
    return static_cast<hf_websocket_front *>(c->handler_ctx);
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
    hf_websocket_front *front = front_of(c);
    const hf_config &cfg = *front->cfg;
    std::string cors;
    if (!req.origin.empty())
        cors = "Access-Control-Allow-Origin: " + req.origin + "\r\nVary: Origin\r\n";
    auto fail = [&](int status, const char *code, const std::string &text) {
        reply_and_close(c, status, cors, "application/json",
                        "{\"error\": " + json_string(code) + ", \"text\": " + json_string(text) +
                            ", \"retry_ms\": " + std::to_string(cfg.backoff_base_ms) + "}\n");
    };
    if (!front->allocator) {
        fail(404, "not_allocator", "this server hands out no addresses; ask an allocator");
        return;
    }
    hf_token_claims claims;
    std::string why;
    int rc = hf_token_check(front->cfg, query_value(req.path, "token"), &claims, &why);
    if (rc != HF_OK) {
        fail(401, hf_err_name(rc), "the token parameter is missing or not valid here: " + why);
        return;
    }
    std::vector<std::string> urls;
    if (!hf_allocation_addresses(front->allocator, claims.account, true, &urls, &why)) {
        fail(503, "no_server", why + " (WebSocket listener); try again later");
        return;
    }
    std::string body = "{\"addresses\": [";
    for (size_t i = 0; i < urls.size(); i++)
        body += (i ? ", " : "") + json_string(urls[i]);
    body += "], \"backoff_base_ms\": " + std::to_string(cfg.backoff_base_ms) +
            ", \"backoff_cap_ms\": " + std::to_string(cfg.backoff_cap_ms) + "}\n";
    front->stats->alloc_answers++;
    reply_and_close(c, 200, cors, "application/json", body);
}

void on_upgrade_read(hf_conn *c)
{
    hf_websocket_front *front = front_of(c);
    const hf_config &cfg = *front->cfg;
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
    if (status == 0 && !front->server) {
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
    // A message holds whole frames: the largest frame and its header.
    hf_ws_stream *ws = nullptr;
    bufferevent *tls = c->bev;
    bufferevent *filter = hf_ws_stream_new(tls, uint64_t(cfg.max_frame) + HF_FRAME_HEADER_MAX, &ws);
    if (!filter) {
        hf_conn_close(c, "cannot create the WebSocket filter");
        return;
    }
    hf_conn_upgraded(c, filter, ws, &hf_devices_handler, front->server);
    // Frames the browser sent right behind its request wait in the TLS
    // buffer; no new read would wake the filter for them.
    bufferevent_trigger(tls, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

} // namespace

const hf_conn_handler hf_websocket_front_handler = {
    on_upgrade_read, nullptr, nullptr, nullptr, nullptr, "no HELLO within limits.hello_timeout",
};
