// One HTTP API request while it is answered, and what the routes share:
// answering with JSON (a result or an error) and the names in the path.
// A call is answered exactly once, by hf_api_reply or hf_api_fail, which
// free it; a route that waits for the store or the router keeps it until
// then. If the API closes first, it answers 503 itself and keeps the call
// for the route's own last answer, which then only frees it.
#pragma once
#include <event2/http.h>
#include <jansson.h>

#include <string>
#include <vector>

#include "core/api/api.h"

struct hf_api_call {
    hf_api *api = nullptr;
    evhttp_request *req = nullptr; // null once the API answered it at close
    const char *route = "";        // for the count ("messages", "devices", ...)
    std::string key_id;            // the caller's api.keys id
    std::string account, device;   // from the path
    std::string app;               // from the path: a subscription's app, or a wake route's provider
    json_t *body = nullptr;        // a POST's parsed body, or null
    bool handed_on = false;        // worker 0 took it and counted it (api_forward.cc)
    ~hf_api_call() { json_decref(body); }
};

// Answers with status and body (taken: the call owns the reference) and
// frees the call.
void hf_api_reply(hf_api_call *call, int status, json_t *body);

// Answers {"error": error, "message": message} and frees the call.
// retry_ms, if not 0, is also sent as Retry-After (in whole seconds) and
// "retry_ms".
void hf_api_fail(hf_api_call *call, int status, const char *error, const std::string &message, uint64_t retry_ms = 0);

// Answers with what another worker answered to the call handed on to it.
void hf_api_relay(hf_api_call *call, int status, evhttp_request *answer);

// Hands the call on to worker's loopback API port (-1: the worker is
// down, answered 503), which answers it; hf_api_close fails what is left.
void hf_api_forward(hf_api_call *call, int port, int worker);
// The header that proves a call comes from worker 0.
extern const char *const hf_api_worker_header;

// Hands the call on to the API at url (https://host:port) of the server
// that holds its account, which answers it.
void hf_api_forward_to_peer(hf_api_call *call, const std::string &url);
// The header a call handed on by another server carries (its server_id):
// the server answers it itself, wherever it would hand it.
extern const char *const hf_api_peer_header;
// Hands a call for call->account on to the worker or server that holds
// the account, or answers 503 when that one is away: true. False: the
// account is held here (or the call was handed on here already).
bool hf_api_send_home(hf_api_call *call);

// Makes what hands calls on to peers needs on api->base (a server's API).
bool hf_api_open_forwards(hf_api *api);
// Closes the connections to the other workers and servers; the calls
// still out on them, answered by hf_api_close already, are freed.
void hf_api_close_forwards(hf_api *api);

// A protocol error code as an HTTP status, for a rejected message or a
// store that failed (hf_api_fail with its name).
int hf_api_status_of(int code);

// The store's failure for an operation, answered.
void hf_api_fail_store(hf_api_call *call, int store_status);

// The account's devices as the store listed them: false, answering 404,
// when none has connected or the path names one not among them.
bool hf_api_devices_known(hf_api_call *call, const std::vector<std::string> &devices);

// False, answering 400, when a POST that takes no fields has some (its
// body must be empty or {}).
bool hf_api_no_fields(hf_api_call *call);

// The routes. Each answers the call, now or later.
void hf_api_post_message(hf_api_call *call);
void hf_api_list_devices(hf_api_call *call);
void hf_api_revoke(hf_api_call *call);
void hf_api_restore(hf_api_call *call);
void hf_api_disconnect(hf_api_call *call);
void hf_api_status(hf_api_call *call);
void hf_api_drain(hf_api_call *call);
void hf_api_dead_letters(hf_api_call *call);
void hf_api_retry_dead_letters(hf_api_call *call);
void hf_api_purge_dead_letters(hf_api_call *call);
void hf_api_list_queues(hf_api_call *call);
void hf_api_purge_queues(hf_api_call *call);
void hf_api_mint_token(hf_api_call *call);
void hf_api_list_subscriptions(hf_api_call *call);
void hf_api_revoke_subscription(hf_api_call *call);
// Wake routes (api_wake.cc): set, list, drop one, try them; and the
// daemon's VAPID key, which needs no API key.
void hf_api_set_wake_route(hf_api_call *call);
void hf_api_list_wake_routes(hf_api_call *call);
void hf_api_drop_wake_route(hf_api_call *call);
void hf_api_try_wake(hf_api_call *call);
void hf_api_wake_vapid(hf_api_call *call);
// A push resource's call (api_push.cc): its path's segments ("push", the
// sealed part).
void hf_api_push(hf_api_call *call, const std::vector<std::string> &segments);
// Counts a push resource's answer to a POST or DELETE by its outcome
// (handoff_pushes_total).
void hf_api_push_counted(hf_api_call *call, int status);
