// The API's listener and the steps every request goes through before its
// route: TLS, the bearer key, the route and method, the key's scope and
// rate, and the body as JSON. Answers are counted by route and status.
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>
#include <vector>

#include "core/api/api.h"
#include "core/api/api_call.h"
#include "core/api/head_scan.h"
#include "core/common/log.h"
#include "core/conn/token_bucket.h"
#include "net/link.h"
#include "proto/clock.h"
#include "proto/token.h"

namespace
{

// Bodies up to this many times api.max_body are read, and answered 413 in
// JSON; evhttp cuts larger ones itself (its own 413) before reading them.
const int64_t body_read_factor = 2;

// Whether a route changes something (an audit line each), or only reads
// or sends (sends are audited with api.audit = "all").
bool changes_state(const char *route)
{
    for (const char *name : {"revoke", "restore", "disconnect", "drain", "dead-letters-retry", "dead-letters-purge",
                             "queues-purge", "subscription-revoke"})
        if (strcmp(route, name) == 0)
            return true;
    return false;
}

// One line an operator can search: who did what to which device, and the
// answer.
void audit(const hf_api_call *call, int status, const std::string &text)
{
    bool sends = call->api->cfg->api_audit == "all" && strcmp(call->route, "messages") == 0;
    if (!changes_state(call->route) && !sends)
        return;
    std::string whom = call->account.empty() ? "" : " " + call->account;
    if (!call->device.empty())
        whom += "/" + call->device;
    hf_log(HF_LOG_INFO, "audit: key \"%s\" %s%s: %d %.300s", call->key_id.c_str(), call->route, whom.c_str(), status,
           text.c_str());
}

// Sends status and the JSON text (a newline is added), counted (and
// audited) unless worker 0 did so already.
void answer(hf_api_call *call, int status, const std::string &text, const char *retry_after)
{
    hf_api *api = call->api;
    api->pending.erase(call);
    if (!call->req)
        return; // answered at close
    if (!call->handed_on) {
        api->answered[{call->route, status}]++;
        audit(call, status, text);
        if (strcmp(call->route, "push") == 0)
            hf_api_push_counted(call, status);
    }
    {
        evkeyvalq *headers = evhttp_request_get_output_headers(call->req);
        evhttp_add_header(headers, "Content-Type", "application/json");
        evhttp_add_header(headers, "Cache-Control", "no-store");
        if (status == 401)
            evhttp_add_header(headers, "WWW-Authenticate", "Bearer realm=\"handoff\"");
        if (retry_after)
            evhttp_add_header(headers, "Retry-After", retry_after);
        evbuffer *buf = evbuffer_new();
        evbuffer_add(buf, text.data(), text.size());
        evbuffer_add(buf, "\n", 1);
        evhttp_send_reply(call->req, status, nullptr, buf);
        evbuffer_free(buf);
    }
}

std::string dump(json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    std::string out = text ? text : "{}";
    free(text);
    return out;
}

// The api.keys entry whose secret the request presents, or null.
const hf_api_key *caller_key(const hf_config *cfg, evhttp_request *req)
{
    return hf_api_key_of(cfg, evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"));
}

const char *scope_name(unsigned scope)
{
    return scope == hf_scope_admin ? "admin" : scope == hf_scope_tokens ? "tokens" : "send";
}

// A route: the path's segments ("*" matches a name), the method, the
// scope a key needs to call it (hf_api_scope; public: none, no key), and
// its handler.
// A route anyone may call: what it answers is public (a page asks for it).
const unsigned public_route = 0;

struct route {
    const char *name;
    std::vector<const char *> segments;
    evhttp_cmd_type method;
    unsigned scope;
    void (*handler)(hf_api_call *);
};

const route routes[] = {
    {"messages", {"v1", "accounts", "*", "messages"}, EVHTTP_REQ_POST, hf_scope_send, hf_api_post_message},
    {"devices", {"v1", "accounts", "*", "devices"}, EVHTTP_REQ_GET, hf_scope_admin, hf_api_list_devices},
    {"revoke", {"v1", "accounts", "*", "devices", "*", "revoke"}, EVHTTP_REQ_POST, hf_scope_admin, hf_api_revoke},
    {"restore", {"v1", "accounts", "*", "devices", "*", "restore"}, EVHTTP_REQ_POST, hf_scope_admin, hf_api_restore},
    {"disconnect",
     {"v1", "accounts", "*", "devices", "*", "disconnect"},
     EVHTTP_REQ_POST,
     hf_scope_admin,
     hf_api_disconnect},
    {"tokens", {"v1", "accounts", "*", "devices", "*", "tokens"}, EVHTTP_REQ_POST, hf_scope_tokens, hf_api_mint_token},
    {"subscriptions",
     {"v1", "accounts", "*", "devices", "*", "subscriptions"},
     EVHTTP_REQ_GET,
     hf_scope_admin,
     hf_api_list_subscriptions},
    {"subscription-revoke",
     {"v1", "accounts", "*", "devices", "*", "subscriptions", "*", "revoke"},
     EVHTTP_REQ_POST,
     hf_scope_admin,
     hf_api_revoke_subscription},
    {"wake", {"v1", "accounts", "*", "devices", "*", "wake"}, EVHTTP_REQ_PUT, hf_scope_admin, hf_api_set_wake_route},
    {"wake", {"v1", "accounts", "*", "devices", "*", "wake"}, EVHTTP_REQ_GET, hf_scope_admin, hf_api_list_wake_routes},
    {"wake-drop",
     {"v1", "accounts", "*", "devices", "*", "wake", "*"},
     EVHTTP_REQ_DELETE,
     hf_scope_admin,
     hf_api_drop_wake_route},
    {"wake-test",
     {"v1", "accounts", "*", "devices", "*", "wake", "test"},
     EVHTTP_REQ_POST,
     hf_scope_admin,
     hf_api_try_wake},
    {"wake-vapid", {"v1", "wake", "vapid"}, EVHTTP_REQ_GET, public_route, hf_api_wake_vapid},
    {"status", {"v1", "status"}, EVHTTP_REQ_GET, hf_scope_admin, hf_api_status},
    {"drain", {"v1", "drain"}, EVHTTP_REQ_POST, hf_scope_admin, hf_api_drain},
    {"queues", {"v1", "accounts", "*", "queues"}, EVHTTP_REQ_GET, hf_scope_admin, hf_api_list_queues},
    {"queues-purge", {"v1", "accounts", "*", "queues", "purge"}, EVHTTP_REQ_POST, hf_scope_admin, hf_api_purge_queues},
    {"dead-letters", {"v1", "accounts", "*", "dead-letters"}, EVHTTP_REQ_GET, hf_scope_admin, hf_api_dead_letters},
    {"dead-letters",
     {"v1", "accounts", "*", "devices", "*", "dead-letters"},
     EVHTTP_REQ_GET,
     hf_scope_admin,
     hf_api_dead_letters},
    {"dead-letters-retry",
     {"v1", "accounts", "*", "dead-letters", "retry"},
     EVHTTP_REQ_POST,
     hf_scope_admin,
     hf_api_retry_dead_letters},
    {"dead-letters-retry",
     {"v1", "accounts", "*", "devices", "*", "dead-letters", "retry"},
     EVHTTP_REQ_POST,
     hf_scope_admin,
     hf_api_retry_dead_letters},
    {"dead-letters-purge",
     {"v1", "accounts", "*", "dead-letters", "purge"},
     EVHTTP_REQ_POST,
     hf_scope_admin,
     hf_api_purge_dead_letters},
    {"dead-letters-purge",
     {"v1", "accounts", "*", "devices", "*", "dead-letters", "purge"},
     EVHTTP_REQ_POST,
     hf_scope_admin,
     hf_api_purge_dead_letters},
};

// The path's segments, percent-decoded. False for an empty segment.
bool split_path(const char *path, std::vector<std::string> *out)
{
    if (!path || *path != '/')
        return false;
    std::string p(path + 1);
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find('/', start);
        if (end == std::string::npos)
            end = p.size();
        size_t len = 0;
        char *decoded = evhttp_uridecode(p.substr(start, end - start).c_str(), 0, &len);
        if (!decoded)
            return false;
        out->emplace_back(decoded, len);
        free(decoded);
        if (out->back().empty())
            return false;
        start = end + 1;
    }
    return true;
}

// Which route the path names (and its names), or null: the one of the
// request's method among those of the same path, else the first (to be
// answered 405).
const route *match(const std::vector<std::string> &segments, evhttp_cmd_type method, std::vector<std::string> *names)
{
    const route *path_match = nullptr;
    for (const route &r : routes) {
        if (r.segments.size() != segments.size())
            continue;
        std::vector<std::string> found;
        size_t i = 0;
        for (; i < segments.size(); i++) {
            if (strcmp(r.segments[i], "*") == 0)
                found.push_back(segments[i]);
            else if (segments[i] != r.segments[i])
                break;
        }
        if (i == segments.size() && (!path_match || r.method == method)) {
            *names = std::move(found);
            path_match = &r;
            if (r.method == method)
                return path_match;
        }
    }
    return path_match;
}

const char *method_name(evhttp_cmd_type m)
{
    return m == EVHTTP_REQ_GET ? "GET" : m == EVHTTP_REQ_DELETE ? "DELETE" : m == EVHTTP_REQ_PUT ? "PUT" : "POST";
}

// The body: empty, or one JSON object.
bool read_body(hf_api_call *call)
{
    evbuffer *in = evhttp_request_get_input_buffer(call->req);
    size_t len = evbuffer_get_length(in);
    if (len > size_t(call->api->cfg->api_max_body)) {
        hf_api_fail(call, 413, "body_too_large",
                    "the body is " + std::to_string(len) + " bytes; api.max_body is " +
                        std::to_string(call->api->cfg->api_max_body));
        return false;
    }
    if (len == 0)
        return true;
    json_error_t err;
    call->body = json_loadb(reinterpret_cast<const char *>(evbuffer_pullup(in, -1)), len, JSON_REJECT_DUPLICATES, &err);
    if (!call->body) {
        hf_api_fail(call, 400, "bad_json",
                    std::string("the body is not JSON: ") + err.text + " at byte " + std::to_string(err.position));
        return false;
    }
    if (!json_is_object(call->body)) {
        hf_api_fail(call, 400, "bad_json", "the body must be a JSON object");
        return false;
    }
    return true;
}

// Every request, from a client or (handed_on) from worker 0.
void take(hf_api *api, evhttp_request *req, bool handed_on)
{
    auto *call = new hf_api_call;
    call->api = api;
    call->req = req;
    call->route = "unknown";
    call->handed_on = handed_on;
    api->pending.insert(call);
    std::vector<std::string> segments, names;
    bool split = split_path(evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)), &segments);
    // Push resources take application servers' pushes, signed (or not)
    // by VAPID rather than by an API key.
    if (split && segments[0] == "push") {
        hf_api_push(call, segments);
        return;
    }
    const route *r = split ? match(segments, evhttp_request_get_command(req), &names) : nullptr;
    if (r && r->scope == public_route && evhttp_request_get_command(req) == r->method) {
        call->route = r->name;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Access-Control-Allow-Origin", "*");
        r->handler(call);
        return;
    }
    const hf_api_key *key = caller_key(api->cfg, req);
    if (!key) {
        hf_api_fail(call, 401, "unauthorized", "send an api.keys secret as \"Authorization: Bearer <secret>\"");
        return;
    }
    call->key_id = key->id;
    if (!r) {
        hf_api_fail(call, 404, "not_found", "no such route; the routes are in docs/api.md");
        return;
    }
    call->route = r->name;
    if (evhttp_request_get_command(req) != r->method) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", method_name(r->method));
        hf_api_fail(call, 405, "method_not_allowed", std::string("this route takes ") + method_name(r->method));
        return;
    }
    if ((key->scope & r->scope) != r->scope) {
        hf_api_fail(call, 403, "forbidden",
                    "key \"" + key->id + "\" has scope " + scope_name(key->scope) + "; this route needs " +
                        scope_name(r->scope) + (r->scope == hf_scope_admin ? "" : " or admin"));
        return;
    }
    uint64_t wait_ms = 0;
    if (!handed_on && !hf_token_bucket_take(&api->buckets[key->id], uint64_t(api->cfg->api_rate),
                                            uint64_t(api->cfg->api_burst), hf_mono_ms(), &wait_ms)) {
        hf_api_fail(call, 429, "rate_limited", "key \"" + key->id + "\" is past api.rate", wait_ms > 0 ? wait_ms : 1);
        return;
    }
    for (const std::string &name : names) {
        if (!hf_name_valid(name)) {
            hf_api_fail(call, 400, "bad_field", "\"" + name + "\" is not a name: 1-64 of A-Z a-z 0-9 . _ - @");
            return;
        }
    }
    if (!names.empty())
        call->account = names[0];
    if (names.size() > 1)
        call->device = names[1];
    if (names.size() > 2)
        call->app = names[2];
    // A key kept to some accounts acts on those only, and on no route of
    // the server as a whole (status, drain).
    if (!hf_api_key_covers(*key, call->account)) {
        hf_api_fail(
            call, 403, "forbidden",
            call->account.empty()
                ? "key \"" + key->id + "\" is kept to some accounts (api.keys' accounts): it calls their routes only"
                : "key \"" + key->id + "\" may not act on account \"" + call->account + "\" (api.keys' accounts)");
        return;
    }
    if (hf_api_send_home(call))
        return;
    if (read_body(call))
        r->handler(call);
}

void on_request(evhttp_request *req, void *arg)
{
    take(static_cast<hf_api *>(arg), req, false);
}

// A call worker 0 hands on, on the loopback listener: only with the box's
// secret, which no other process on the host has.
void on_worker_request(evhttp_request *req, void *arg)
{
    auto *api = static_cast<hf_api *>(arg);
    const char *presented = evhttp_find_header(evhttp_request_get_input_headers(req), hf_api_worker_header);
    if (!presented || !hf_secret_matches(presented, api->cfg->worker_api_secret)) {
        evhttp_send_error(req, 403, "only worker 0 calls here");
        return;
    }
    take(api, req, true);
}

// Ids for messages posted without one start at random: 62 bits, as libhandoff's.
void seed_message_ids(hf_api *api)
{
    RAND_bytes(reinterpret_cast<unsigned char *>(&api->next_msg_id), sizeof api->next_msg_id);
    api->next_msg_id = (api->next_msg_id >> 2) + 1;
}

// An answer goes out at once, not after the caller's delayed ACK of the
// segment before it (Nagle's algorithm held the last one of each answer
// 40 ms on a kept-alive connection: 700 calls a second at 32 in flight).
// Linux's accepted sockets take it from the listener.
void no_delay(evhttp_bound_socket *bound)
{
    int one = 1;
    setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// What every API listener is set to.
void configure(hf_api *api, evhttp *http, void (*on_call)(evhttp_request *, void *))
{
    const hf_config &cfg = *api->cfg;
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    hf_http_guard_limits(http, size_t(cfg.http_max_headers), size_t(cfg.api_max_body * body_read_factor),
                         int((cfg.api_timeout_ms + 999) / 1000));
    evhttp_set_gencb(http, on_call, api);
}

// Each accepted connection gets TLS with the listeners' current context.
bufferevent *make_tls(event_base *base, void *arg)
{
    auto *api = static_cast<hf_api *>(arg);
    SSL *ssl = SSL_new(api->conns->tls);
    // Past api.max_connections: a context with no certificate fails the
    // handshake at once, and evhttp drops the connection.
    if (ssl && !hf_http_guard_admit_tls(&api->guard, ssl)) {
        SSL_free(ssl);
        ssl = SSL_new(api->refusing_tls);
    }
    if (!ssl)
        return nullptr;
    bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev)
        hf_head_scan_start(bev, ssl, &api->head_limits);
    return bev;
}

} // namespace

bool hf_api_send_home(hf_api_call *call)
{
    hf_api *api = call->api;
    if (call->handed_on || call->account.empty())
        return false;
    if (api->cluster_home && !evhttp_find_header(evhttp_request_get_input_headers(call->req), hf_api_peer_header)) {
        std::string url, why;
        int where = api->cluster_home(api->shell, call->account, &url, &why);
        if (where < 0) {
            hf_api_fail(call, 503, "server_unavailable", why, 1000);
            return true;
        }
        if (where > 0) {
            hf_api_forward_to_peer(call, url);
            return true;
        }
    }
    if (api->home_port) {
        int worker = -1;
        int port = api->home_port(api->shell, call->account, &worker);
        if (port != 0) {
            hf_api_forward(call, port, worker);
            return true;
        }
    }
    return false;
}

void hf_api_reply(hf_api_call *call, int status, json_t *body)
{
    answer(call, status, dump(body), nullptr);
    json_decref(body);
    delete call;
}

void hf_api_relay(hf_api_call *call, int status, evhttp_request *from)
{
    evkeyvalq *headers = evhttp_request_get_input_headers(from);
    // What the answer says beside its body: a push's Location and TTL.
    if (call->req)
        for (const char *name : {"Allow", "Location", "TTL"})
            if (const char *value = evhttp_find_header(headers, name))
                evhttp_add_header(evhttp_request_get_output_headers(call->req), name, value);
    evbuffer *body = evhttp_request_get_input_buffer(from);
    std::string text(reinterpret_cast<const char *>(evbuffer_pullup(body, -1)), evbuffer_get_length(body));
    if (!text.empty() && text.back() == '\n')
        text.pop_back();
    answer(call, status, text, evhttp_find_header(headers, "Retry-After"));
    delete call;
}

void hf_api_fail(hf_api_call *call, int status, const char *error, const std::string &message, uint64_t retry_ms)
{
    json_t *body = json_pack("{s:s, s:s%}", "error", error, "message", message.data(), message.size());
    std::string retry_after;
    if (retry_ms > 0) {
        json_object_set_new(body, "retry_ms", json_integer(json_int_t(retry_ms)));
        retry_after = std::to_string((retry_ms + 999) / 1000);
    }
    answer(call, status, dump(body), retry_ms > 0 ? retry_after.c_str() : nullptr);
    json_decref(body);
    delete call;
}

int hf_api_status_of(int code)
{
    switch (code) {
    case HF_ERR_NO_TARGET:
    case HF_ERR_UNKNOWN_DEVICE:
        return 404;
    case HF_ERR_FORBIDDEN:
        return 403;
    case HF_ERR_RATE_LIMITED:
    case HF_ERR_QUEUE_FULL:
    case HF_ERR_ACCOUNT_FULL:
        return 429;
    case HF_ERR_STORE_FULL:
    case HF_ERR_STORE_UNAVAILABLE:
    case HF_ERR_SHUTTING_DOWN:
        return 503;
    case HF_ERR_INTERNAL:
        return 500;
    default:
        return 400;
    }
}

void hf_api_fail_store(hf_api_call *call, int store_status)
{
    if (store_status == HF_STORE_UNAVAILABLE)
        hf_api_fail(call, 503, hf_err_name(HF_ERR_STORE_UNAVAILABLE), "the store cannot be reached; try again",
                    uint64_t(call->api->cfg->store_retry_ms));
    else
        hf_api_fail(call, 500, hf_err_name(HF_ERR_INTERNAL),
                    "the store failed (status " + std::to_string(store_status) + "); see the daemon's log");
}

bool hf_api_start(hf_api *api, event_base *base, std::string *err)
{
    const hf_config &cfg = *api->cfg;
    if (cfg.listen_api.empty())
        return true;
    std::string host;
    int port = 0;
    size_t colon = cfg.listen_api.rfind(':');
    if (colon == std::string::npos || (port = atoi(cfg.listen_api.c_str() + colon + 1)) <= 0 || port > 65535) {
        *err = "listen.api \"" + cfg.listen_api + "\": expected host:port";
        return false;
    }
    host = cfg.listen_api.substr(0, colon);
    api->http = std::unique_ptr<evhttp, void (*)(evhttp *)>(evhttp_new(base), evhttp_free);
    evhttp_bound_socket *bound =
        api->http ? evhttp_bind_socket_with_handle(api->http.get(), host.c_str(), uint16_t(port)) : nullptr;
    if (!bound) {
        *err = "cannot listen on listen.api " + cfg.listen_api + ": " + strerror(errno);
        return false;
    }
    no_delay(bound);
    api->base = base;
    api->guard.max_connections = size_t(cfg.api_max_connections);
    api->guard.limits = &api->conns->limits;
    api->guard.limit = hf_limit::api_connections;
    if (!(api->refusing_tls = SSL_CTX_new(TLS_server_method()))) {
        *err = "cannot make a TLS context: out of memory";
        return false;
    }
    evhttp_set_bevcb(api->http.get(), make_tls, api);
    configure(api, api->http.get(), on_request);
    // A body is read whole only after its head presented a key (head_scan.h).
    api->head_limits = {&cfg, size_t(cfg.api_max_unauthenticated_body), size_t(cfg.api_max_body * body_read_factor),
                        cfg.push_key.empty() ? 0 : size_t(cfg.push_max_body * body_read_factor)};
    evhttp_set_max_body_size(api->http.get(), ev_ssize_t(api->head_limits.unauthenticated));
    seed_message_ids(api);
    // Calls for accounts other servers hold go to them, checked as the
    // allocators are (register.ca).
    if (cfg.role == hf_role::server &&
        !(api->peer_tls = hf_link_tls_ctx(cfg.register_ca.empty() ? nullptr : cfg.register_ca.c_str()))) {
        *err = "register.ca " + cfg.register_ca + ": cannot read it as a PEM CA bundle";
        return false;
    }
    if (cfg.role == hf_role::server && !hf_api_open_forwards(api)) {
        *err = "out of memory";
        return false;
    }
    hf_log(HF_LOG_INFO, "HTTP API on https://%s/v1/ (%zu keys)", cfg.listen_api.c_str(), cfg.api_keys.size());
    return true;
}

void hf_api_close(hf_api *api)
{
    std::unordered_set<hf_api_call *> waiting;
    waiting.swap(api->pending);
    for (hf_api_call *call : waiting) {
        json_t *body = json_pack("{s:s, s:s}", "error", "shutting_down", "message", "the server is stopping");
        answer(call, 503, dump(body), nullptr);
        json_decref(body);
        call->req = nullptr; // the route's own answer only frees it
    }
    hf_api_close_forwards(api);
    api->http.reset();
    api->worker_http.reset();
    SSL_CTX_free(api->peer_tls);
    api->peer_tls = nullptr;
    SSL_CTX_free(api->refusing_tls);
    api->refusing_tls = nullptr;
}

bool hf_api_start_worker(hf_api *api, event_base *base, int *port, std::string *err)
{
    api->base = base;
    api->worker_http = std::unique_ptr<evhttp, void (*)(evhttp *)>(evhttp_new(base), evhttp_free);
    evhttp_bound_socket *bound =
        api->worker_http ? evhttp_bind_socket_with_handle(api->worker_http.get(), "127.0.0.1", 0) : nullptr;
    sockaddr_in where{};
    socklen_t len = sizeof where;
    if (!bound || getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr *>(&where), &len) != 0) {
        *err = std::string("cannot listen on loopback for the API calls worker 0 hands on: ") + strerror(errno);
        return false;
    }
    no_delay(bound);
    configure(api, api->worker_http.get(), on_worker_request);
    *port = ntohs(where.sin_port);
    seed_message_ids(api); // the messages handed on get their ids here
    return true;
}
