// The HTTP API (listen.api): JSON over HTTPS on the daemon's own loop
// (libevent's evhttp), for app backends and operators. Callers present an
// api.keys secret as a bearer token; each key has its own rate limit and
// scope. The routes are in docs/api.md and docs/openapi.yaml:
//   POST /v1/accounts/{account}/messages               (api_messages.cc)
//   GET  /v1/accounts/{account}/devices                 (api_devices.cc)
//   POST /v1/accounts/{account}/devices/{device}/revoke  restore  disconnect
//   GET  /v1/status, POST /v1/drain                     (api_status.cc)
// With workers that have stores of their own, worker 0 hands a call for
// another worker's account on to it (api_forward.cc).
#pragma once
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/api/idempotency.h"
#include "core/conn/conn.h"
#include "core/api/head_scan.h"
#include "core/conn/http_guard.h"
#include "core/server/server.h"

struct hf_api_call;

struct hf_api {
    const hf_config *cfg = nullptr;
    hf_server *server = nullptr;
    hf_conn_pool *conns = nullptr; // its tls is the context for new connections (replaced on reload)
    std::unique_ptr<evhttp, void (*)(evhttp *)> http{nullptr, nullptr};
    hf_http_guard guard;                                           // api.max_connections
    hf_head_limits head_limits;                                    // the body limits a request's head decides
    SSL_CTX *refusing_tls = nullptr;                               // owned: no certificate, for connections past it
    std::unordered_map<std::string, hf_token_bucket> buckets;      // api.rate, by key id
    std::unordered_map<std::string, hf_token_bucket> push_buckets; // push.rate, by subscription id (api_push.cc)
    // Calls waiting for the store or the router; answered 503 at close.
    std::unordered_set<hf_api_call *> pending;
    // Answers by route and status, for /metrics.
    std::map<std::pair<std::string, int>, uint64_t> answered;
    uint64_t next_msg_id = 0;   // ids for messages posted without one
    hf_idempotency idempotency; // the ids of Idempotency-Keys
    // What /v1/status and /v1/drain reach in the shell: the status
    // object (a new reference) and the drain SIGTERM starts.
    json_t *(*status)(void *shell) = nullptr;
    void (*drain)(void *shell) = nullptr;
    void *shell = nullptr;

    // Workers with stores of their own (cfg->worker_api_secret set). Where
    // a call for account goes: 0, here; else the loopback port of its
    // worker's API listener, whose number is in *worker, or -1 while that
    // worker is down.
    int (*home_port)(void *shell, const std::string &account, int *worker) = nullptr;
    std::unique_ptr<evhttp, void (*)(evhttp *)> worker_http{nullptr, nullptr}; // calls handed on to this worker

    // Servers of a cluster with stores of their own: where a call for
    // account goes. 0: here; 1: to *api_url, the API of the server the
    // allocators rank first for it; -1: nowhere known (*why), answered 503.
    int (*cluster_home)(void *shell, const std::string &account, std::string *api_url, std::string *why) = nullptr;
    SSL_CTX *peer_tls = nullptr; // owned: the client side of hf_api_forward_to_peer (register.ca)
    struct worker_link {
        int port = 0;
        evhttp_connection *conn = nullptr;
    };
    std::map<int, worker_link> worker_links;             // by worker: the connection calls go on
    std::unordered_set<struct hf_api_handed *> forwards; // calls handed on, not yet answered
    std::vector<evhttp_connection *> spent_peer_conns;   // peers' connections answered, freed by the reaper
    event *peer_conn_reaper = nullptr;                   // frees them on the next loop turn
    event_base *base = nullptr;
};

// Opens listen.api on base unless it is empty. False and *err on failure.
bool hf_api_start(hf_api *api, event_base *base, std::string *err);

// A worker's loopback listener for the calls worker 0 hands on (when
// cfg->worker_api_secret is set); *port is where it listens.
bool hf_api_start_worker(hf_api *api, event_base *base, int *port, std::string *err);

// Answers every call still waiting (503 shutting_down) and closes the
// listeners. What the store or router says of them later is dropped.
void hf_api_close(hf_api *api);
