// The HTTP API (listen.api): JSON over HTTPS on the daemon's own loop
// (libevent's evhttp), for app backends and operators. Callers present an
// api.keys secret as a bearer token; each key has its own rate limit and
// scope. The routes are in docs/api.md and docs/openapi.yaml:
//   POST /v1/accounts/{account}/messages               (api_messages.cc)
//   GET  /v1/accounts/{account}/devices                 (api_devices.cc)
//   POST /v1/accounts/{account}/devices/{device}/revoke  restore  disconnect
//   GET  /v1/status, POST /v1/drain                     (api_status.cc)
#pragma once
#include <event2/http.h>
#include <jansson.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/conn/conn.h"
#include "core/server/server.h"

struct hf_api_call;

struct hf_api {
    const hf_config *cfg = nullptr;
    hf_server *server = nullptr;
    hf_conn_pool *conns = nullptr; // its tls is the context for new connections (replaced on reload)
    std::unique_ptr<evhttp, void (*)(evhttp *)> http{nullptr, nullptr};
    std::unordered_map<std::string, hf_token_bucket> buckets; // api.rate, by key id
    // Calls waiting for the store or the router; answered 503 at close.
    std::unordered_set<hf_api_call *> pending;
    // Answers by route and status, for /metrics.
    std::map<std::pair<std::string, int>, uint64_t> answered;
    uint64_t next_msg_id = 0; // ids for messages posted without one
    // What /v1/status and /v1/drain reach in the shell: the status
    // object (a new reference) and the drain SIGTERM starts.
    json_t *(*status)(void *shell) = nullptr;
    void (*drain)(void *shell) = nullptr;
    void *shell = nullptr;
};

// Opens listen.api on base unless it is empty. False and *err on failure.
bool hf_api_start(hf_api *api, event_base *base, std::string *err);

// Answers every call still waiting (503 shutting_down) and closes the
// listener. What the store or router says of them later is dropped.
void hf_api_close(hf_api *api);
