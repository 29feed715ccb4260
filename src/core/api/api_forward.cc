// Handing a call on to where its account is held, and sending back the
// answer from there.
// - Workers with stores of their own (workers = N, LMDB): worker 0 takes
//   the API's calls, checks the key, scope and rate, and hands each call
//   for an account whose home is another worker on to that worker, over a
//   loopback HTTP connection, with the box's secret in a header. The other
//   worker answers it as its own (without counting it or taking the rate
//   again).
// - Servers of a cluster with stores of their own: a call for an account
//   another server holds goes to that server's API over HTTPS (its
//   certificate checked against register.ca), with the caller's own key
//   and a header that says it was handed on, so it goes no further.
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

#include <string>

#include "core/api/api.h"
#include "core/api/api_call.h"
#include "core/common/log.h"

const char *const hf_api_worker_header = "X-Handoff-Worker-Secret";
const char *const hf_api_peer_header = "X-Handoff-Handed-On-By";

struct hf_api_handed {
    hf_api_call *call;
    int worker;                             // -1: a peer server
    std::string peer_url;                   // the peer's API
    evhttp_connection *peer_conn = nullptr; // the peer's own connection, freed once answered
};

// Why the API frees a peer's connection itself, on the loop turn after
// its answer, rather than with evhttp_connection_free_on_completion:
// libevent 2.1 still uses the connection after the callback that answers
// it, and does not free an auto-free connection whose connect was refused
// (every call to a server that has just died would leak one).

namespace
{

// How long a client should wait before trying a call whose worker or
// server is down: a worker is restarted within this (or keeps dying, and
// the log says so); a server is, or the allocators stop listing it.
const uint64_t handed_retry_ms = 1000;

void fail_handed(hf_api_handed *f, const char *what)
{
    hf_api_call *call = f->call;
    std::string who = f->worker >= 0 ? "worker " + std::to_string(f->worker) : "server " + f->peer_url;
    hf_api_fail(call, 503, f->worker >= 0 ? "worker_unavailable" : "server_unavailable",
                who + ", which holds account \"" + call->account + "\", " + what + "; try again", handed_retry_ms);
}

void free_spent_peer_conns(evutil_socket_t, short, void *arg)
{
    auto *api = static_cast<hf_api *>(arg);
    for (evhttp_connection *conn : api->spent_peer_conns)
        evhttp_connection_free(conn);
    api->spent_peer_conns.clear();
}

void on_answer(evhttp_request *answer, void *arg)
{
    auto *f = static_cast<hf_api_handed *>(arg);
    hf_api *api = f->call->api;
    api->forwards.erase(f);
    if (f->peer_conn) {
        api->spent_peer_conns.push_back(f->peer_conn);
        const timeval now = {0, 0};
        evtimer_add(api->peer_conn_reaper, &now);
    }
    if (!answer || evhttp_request_get_response_code(answer) == 0)
        fail_handed(f, "did not answer");
    else
        hf_api_relay(f->call, evhttp_request_get_response_code(answer), answer);
    delete f;
}

// Fails (what set) or frees (answered at close) a call handed on.
void drop_handed(hf_api_handed *f, const char *what)
{
    if (what)
        fail_handed(f, what);
    else
        delete f->call; // answered at close
    delete f;
}

// Fails the calls waiting on worker's connection; freeing it frees their
// requests without calling back.
void drop_link(hf_api *api, int worker, const char *what)
{
    for (auto it = api->forwards.begin(); it != api->forwards.end();) {
        hf_api_handed *f = *it;
        if (f->worker != worker) {
            ++it;
            continue;
        }
        it = api->forwards.erase(it);
        drop_handed(f, what);
    }
    hf_api::worker_link &link = api->worker_links[worker];
    if (link.conn)
        evhttp_connection_free(link.conn);
    link = {};
}

// The connection to worker on port, made anew when the worker's port
// changed (it was restarted).
evhttp_connection *link_to(hf_api *api, int worker, int port)
{
    hf_api::worker_link &link = api->worker_links[worker];
    if (link.conn && link.port == port)
        return link.conn;
    drop_link(api, worker, "was restarted");
    evhttp_connection *conn = evhttp_connection_base_new(api->base, nullptr, "127.0.0.1", uint16_t(port));
    if (!conn)
        return nullptr;
    evhttp_connection_set_timeout(conn, int((api->cfg->api_timeout_ms + 999) / 1000));
    api->worker_links[worker] = {port, conn};
    return conn;
}

// Sends f's call on conn as its caller sent it (key, body, type,
// Idempotency-Key, and a push's headers: docs/push.md), to host, with the
// header that says who hands it on.
// False when it cannot: f is answered and freed.
bool hand_on(hf_api_handed *f, evhttp_connection *conn, const char *host, const char *header, const char *value)
{
    hf_api_call *call = f->call;
    evhttp_request *out = evhttp_request_new(on_answer, f);
    evkeyvalq *in_headers = evhttp_request_get_input_headers(call->req);
    evkeyvalq *out_headers = evhttp_request_get_output_headers(out);
    for (const char *name :
         {"Authorization", "Content-Type", "Idempotency-Key", "Content-Encoding", "TTL", "Urgency", "Topic"})
        if (const char *v = evhttp_find_header(in_headers, name))
            evhttp_add_header(out_headers, name, v);
    evhttp_add_header(out_headers, "Host", host);
    evhttp_add_header(out_headers, header, value);
    evbuffer_add_buffer(evhttp_request_get_output_buffer(out), evhttp_request_get_input_buffer(call->req));
    call->api->forwards.insert(f);
    if (evhttp_make_request(conn, out, evhttp_request_get_command(call->req), evhttp_request_get_uri(call->req)) !=
        0) { // it freed out
        call->api->forwards.erase(f);
        drop_handed(f, "cannot be reached");
        return false;
    }
    return true;
}

// A new HTTPS connection to a peer's API (url: https://host:port), its
// certificate checked for host; null when the URL or TLS will not do.
evhttp_connection *peer_connection(hf_api *api, const std::string &url, std::string *host)
{
    evhttp_uri *uri = evhttp_uri_parse(url.c_str());
    const char *h = uri ? evhttp_uri_get_host(uri) : nullptr;
    int port = uri ? evhttp_uri_get_port(uri) : -1;
    *host = h ? h : "";
    if (uri)
        evhttp_uri_free(uri);
    SSL *ssl = host->empty() || !api->peer_tls ? nullptr : SSL_new(api->peer_tls);
    if (!ssl)
        return nullptr;
    SSL_set_tlsext_host_name(ssl, host->c_str());
    SSL_set1_host(ssl, host->c_str());
    bufferevent *bev = bufferevent_openssl_socket_new(api->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!bev) {
        SSL_free(ssl);
        return nullptr;
    }
    evhttp_connection *conn =
        evhttp_connection_base_bufferevent_new(api->base, nullptr, bev, host->c_str(), uint16_t(port > 0 ? port : 443));
    if (!conn) {
        bufferevent_free(bev);
        return nullptr;
    }
    evhttp_connection_set_timeout(conn, int((api->cfg->api_timeout_ms + 999) / 1000));
    evhttp_connection_set_retries(conn, 0);
    return conn;
}

} // namespace

void hf_api_forward(hf_api_call *call, int port, int worker)
{
    hf_api *api = call->api;
    auto *f = new hf_api_handed{call, worker, "", nullptr};
    if (port < 0)
        return drop_handed(f, "is not running");
    evhttp_connection *conn = link_to(api, worker, port);
    if (!conn)
        return drop_handed(f, "cannot be reached: out of memory");
    hand_on(f, conn, "127.0.0.1", hf_api_worker_header, api->cfg->worker_api_secret.c_str());
}

void hf_api_forward_to_peer(hf_api_call *call, const std::string &url)
{
    hf_api *api = call->api;
    auto *f = new hf_api_handed{call, -1, url, nullptr};
    std::string host;
    evhttp_connection *conn = api->peer_conn_reaper ? peer_connection(api, url, &host) : nullptr;
    if (!conn)
        return drop_handed(f, "cannot be reached: its URL or TLS will not do");
    f->peer_conn = conn;
    if (!hand_on(f, conn, host.c_str(), hf_api_peer_header, api->cfg->server_id.c_str()))
        evhttp_connection_free(conn);
}

void hf_api_close_forwards(hf_api *api)
{
    while (!api->worker_links.empty()) {
        drop_link(api, api->worker_links.begin()->first, nullptr);
        api->worker_links.erase(api->worker_links.begin());
    }
    // Calls on peers' connections: freeing each frees its request.
    while (!api->forwards.empty()) {
        hf_api_handed *f = *api->forwards.begin();
        api->forwards.erase(api->forwards.begin());
        evhttp_connection_free(f->peer_conn);
        drop_handed(f, nullptr);
    }
    free_spent_peer_conns(-1, 0, api);
    if (api->peer_conn_reaper)
        event_free(api->peer_conn_reaper);
    api->peer_conn_reaper = nullptr;
}

bool hf_api_open_forwards(hf_api *api)
{
    api->peer_conn_reaper = evtimer_new(api->base, free_spent_peer_conns, api);
    return api->peer_conn_reaper != nullptr;
}
