// Workers with stores of their own (workers = N, LMDB): worker 0 takes the
// API's calls, checks the key, scope and rate, and hands each call for an
// account whose home is another worker on to that worker, over a loopback
// HTTP connection, with the box's secret in a header. The other worker
// answers it as its own (without counting it or taking the rate again),
// and worker 0 sends that answer back.
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <string>

#include "core/api/api.h"
#include "core/api/api_call.h"
#include "core/common/log.h"

const char *const hf_api_worker_header = "X-Handoff-Worker-Secret";

struct hf_api_handed {
    hf_api_call *call;
    int worker;
};

namespace
{

// How long a client should wait before trying a call whose worker is down:
// a worker is restarted within this (or keeps dying, and the log says so).
const uint64_t worker_retry_ms = 1000;

void fail_worker_down(hf_api_call *call, int worker, const char *what)
{
    hf_api_fail(call, 503, "worker_unavailable",
                "worker " + std::to_string(worker) + ", which holds account \"" + call->account + "\", " + what +
                    "; try again",
                worker_retry_ms);
}

void on_answer(evhttp_request *answer, void *arg)
{
    auto *f = static_cast<hf_api_handed *>(arg);
    f->call->api->forwards.erase(f);
    hf_api_call *call = f->call;
    int worker = f->worker;
    delete f;
    if (!answer || evhttp_request_get_response_code(answer) == 0)
        fail_worker_down(call, worker, "did not answer");
    else
        hf_api_relay(call, evhttp_request_get_response_code(answer), answer);
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
        if (what)
            fail_worker_down(f->call, worker, what);
        else
            delete f->call; // answered at close
        delete f;
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

} // namespace

void hf_api_forward(hf_api_call *call, int port, int worker)
{
    hf_api *api = call->api;
    if (port < 0)
        return fail_worker_down(call, worker, "is not running");
    evhttp_connection *conn = link_to(api, worker, port);
    if (!conn)
        return hf_api_fail(call, 500, "internal", "cannot reach worker " + std::to_string(worker) + ": out of memory");
    auto *f = new hf_api_handed{call, worker};
    evhttp_request *out = evhttp_request_new(on_answer, f);
    evkeyvalq *in_headers = evhttp_request_get_input_headers(call->req);
    evkeyvalq *out_headers = evhttp_request_get_output_headers(out);
    for (const char *name : {"Authorization", "Content-Type", "Idempotency-Key"})
        if (const char *value = evhttp_find_header(in_headers, name))
            evhttp_add_header(out_headers, name, value);
    evhttp_add_header(out_headers, "Host", "127.0.0.1");
    evhttp_add_header(out_headers, hf_api_worker_header, api->cfg->worker_api_secret.c_str());
    evbuffer_add_buffer(evhttp_request_get_output_buffer(out), evhttp_request_get_input_buffer(call->req));
    api->forwards.insert(f);
    if (evhttp_make_request(conn, out, evhttp_request_get_command(call->req), evhttp_request_get_uri(call->req)) !=
        0) { // it freed out
        api->forwards.erase(f);
        delete f;
        fail_worker_down(call, worker, "cannot be reached");
    }
}

void hf_api_close_forwards(hf_api *api)
{
    while (!api->worker_links.empty()) {
        drop_link(api, api->worker_links.begin()->first, nullptr);
        api->worker_links.erase(api->worker_links.begin());
    }
}
