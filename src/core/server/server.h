// What the connection-server part shares: its config, the store and the
// heartbeat policy it was given, the online table, and the router. The
// shell fills it in at start; the server part's units reach each other's
// state only through it.
#pragma once
#include <string>
#include <vector>

#include "core/common/config.h"
#include "core/common/event_ptr.h"
#include "core/common/log.h"
#include "core/common/module_handle.h"
#include "core/common/module_loader.h"
#include "core/common/stats.h"
#include "core/conn/conn.h"
#include "core/server/enqueue_arg.h"
#include "core/server/expiry_clock.h"
#include "core/server/online.h"
#include "core/server/followers.h"

struct hf_router;
struct hf_wake;

// A server of the cluster as the allocators list it in REGISTER_ACK
// (peers): the API hands an account's calls on to the one it ranks first.
struct hf_peer {
    std::string id;
    uint64_t weight = 1;
    std::string api_url; // empty: it has no HTTP API
    bool live = true;    // false: a member the allocators list as away
};

struct hf_server {
    const hf_config *cfg = nullptr;
    hf_stats *stats = nullptr;
    hf_conn_pool *conns = nullptr;
    hf_store store;
    hf_heartbeat heartbeat;
    hf_host_api host{}; // what the store and the policy were opened with (server_modules.h)
    hf_loaded_module_ptr store_module, heartbeat_module;
    hf_online online;
    hf_presence presence;
    hf_router *router = nullptr;  // see router.h
    hf_wake *wake = nullptr;      // wake-ups (wake.h); null when no provider is configured
    hf_expiry_clock expiry_clock; // what sweeps and fetches call now
    bool stopping = false;        // SIGTERM: draining, then exit
    // The other servers' addresses as the allocators last listed them (for
    // GOAWAY).
    std::vector<std::string> peer_addresses;
    // The live servers, this one among them, as the allocators last
    // listed them (REGISTER_ACK's peers); empty until one answered.
    std::vector<hf_peer> peers;
    // The peers are the cluster's members, up or not (each line said live
    // or away): an account is held by the one ranked first among them,
    // and only that server admits its devices.
    bool peers_are_members = false;

    // What the server part asks of the shell, with the shell's pointer.
    void *shell = nullptr;
    // A module cannot go on (hf_host_api.fatal): the shell stops.
    void (*fatal)(void *shell, const char *module, const char *why) = nullptr;
    // With stores of their own (a box's workers, or a cluster's members):
    // whether an account is held elsewhere, and where (null: any server
    // will do). A HELLO here would split the account over two stores.
    bool (*held_elsewhere)(void *shell, const std::string &account, std::string *where) = nullptr;
};

// Runs cb(arg) once delivery.store_retry has passed, on timer (made on
// first use, freed with its owner): a store call that failed, again.
static inline void hf_server_retry_later(hf_server *srv, hf_event_ptr *timer, void *arg, event_callback_fn cb)
{
    if (!*timer)
        timer->reset(event_new(srv->conns->base, -1, 0, cb, arg));
    hf_timeout_arm(srv->conns->timeouts, timer->get(), uint64_t(srv->cfg->store_retry_ms));
}

// A store call's completion that only logs a failure; what names the call
// ("ack").
static inline void hf_server_store_done(void *what, int status)
{
    if (status != HF_STORE_OK)
        hf_log(HF_LOG_WARNING, "store: %s failed (status %d); check the store's health",
               static_cast<const char *>(what), status);
}
