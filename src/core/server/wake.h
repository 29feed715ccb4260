// Wake-ups (docs/wake.md): when a message is stored for a device that no
// server holds and that has wake routes, the server sends one
// content-free wake-up through each ("you have messages: connect"). The
// message stays queued until the device connects and acknowledges it.
// Wake-ups are coalesced (at most one per device per wake.min_interval,
// until it connects), rate-limited per route (wake.rate, wake.burst),
// retried with backoff honouring Retry-After (wake.retry_base,
// wake.retry_cap, wake.max_attempts), and a route the provider says is
// gone is dropped. Per worker: a device's state lives with the worker
// that holds its account.
#pragma once
#include <string>
#include <vector>

#include "core/wake/wake_route.h"
#include "core/wake/wake_sender.h"

struct hf_server;
struct hf_session;
struct hf_wake;
struct hf_msg;

// The wake-ups of srv, sending with sender (owned from now on).
hf_wake *hf_wake_new(hf_server *srv, hf_wake_sender *sender);
// Before the store closes: what it still answers starts nothing more.
void hf_wake_close(hf_wake *wake);
// After: wake-ups still out are answered (and dropped), and it goes.
void hf_wake_free(hf_wake *wake);

// Whether srv keeps wake routes: some provider is configured and the
// store keeps device records.
bool hf_wake_enabled(const hf_server *srv);

// The daemon's VAPID public key (65 bytes) that Web Push wake-ups are
// signed with, which a page subscribes with; "" without them.
std::string hf_wake_vapid_key(const hf_server *srv);

// Whether srv sends wake-ups through provider.
bool hf_wake_serves_provider(const hf_server *srv, hf_wake_provider provider);

// A message was stored for the device, which no server holds.
void hf_wake_stored(hf_server *srv, const std::string &account, const std::string &device);

// The device connected: its wake-up state goes with any retry.
void hf_wake_connected(hf_server *srv, const std::string &account, const std::string &device);

// A route as the API's PUT and a device's WAKE give it (JSON), checked:
// why it is refused ("" if not; then *route is it). Refused: not a route,
// a provider this server does not wake through, or a Web Push endpoint
// the endpoint policy forbids (core/wake/endpoint_policy.h). *unserved
// says which was the provider's.
std::string hf_wake_route_problem(const hf_server *srv, std::string_view json, hf_wake_route *route, bool *unserved);

// Sets (route) or drops (provider only) a route; done hears the store's
// status.
void hf_wake_set_route(hf_server *srv, const std::string &account, const std::string &device,
                       const hf_wake_route &route, void (*done)(void *arg, int status), void *arg);
void hf_wake_drop_route(hf_server *srv, const std::string &account, const std::string &device,
                        hf_wake_provider provider, void (*done)(void *arg, int status), void *arg);

// A device's WAKE: its own route set or dropped, answered WAKE_ACK.
void hf_wake_request(hf_session *s, const hf_msg *m);

// A revoked device's routes go.
void hf_wake_forget(hf_server *srv, const std::string &account, const std::string &device);

// handoffctl wake-test: one wake-up through each of the device's routes
// now (neither coalesced nor rate-limited), and what each provider said.
struct hf_wake_trial {
    hf_wake_provider provider;
    hf_wake_result result;
};
typedef void (*hf_wake_trial_cb)(void *arg, int store_status, const std::vector<hf_wake_trial> &trials);
void hf_wake_try(hf_server *srv, const std::string &account, const std::string &device, hf_wake_trial_cb done,
                 void *arg);
