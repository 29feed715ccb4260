// The daemon's shell: the one context handoffd holds, made of the parts'
// own structs (connections, the server part, the allocator part), plus
// what only the shell uses: the reactor, listeners, modules, signals,
// drain and the metrics listener. Every part reaches what it needs
// through its own struct; only the shell sees them all.
#pragma once
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/allocator/allocator.h"
#include "core/api/api.h"
#include "core/box/supervisor.h"
#include "core/common/config.h"
#include "core/common/event_ptr.h"
#include "core/common/stats.h"
#include "core/common/timeouts.h"
#include "core/conn/conn.h"
#include "core/server/registration.h"
#include "core/server/server.h"
#include "core/shell/metrics.h"
#include "core/shell/readiness.h"
#include "core/common/module_loader.h"
#include "core/shell/tls_context.h"
#include "core/front/websocket_front.h"
#include "net/tls_record.h"

struct hf_event_base_deleter {
    void operator()(event_base *b) const { event_base_free(b); }
};
struct hf_listener_deleter {
    void operator()(evconnlistener *l) const { evconnlistener_free(l); }
};
struct hf_tls_aead_deleter {
    void operator()(hf_tls_aead *a) const { hf_tls_aead_free(a); }
};
using hf_listener_ptr = std::unique_ptr<evconnlistener, hf_listener_deleter>;

struct hf_daemon {
    std::unique_ptr<event_base, hf_event_base_deleter> base;
    hf_config cfg;
    hf_stats stats;
    hf_timeouts timeouts;
    hf_ssl_ctx_ptr tls;
    std::unique_ptr<hf_tls_aead, hf_tls_aead_deleter> tls_aead; // the connections' shared cipher contexts

    // The parts.
    hf_conn_pool conns;
    hf_server server;
    hf_allocator allocator;
    hf_registrations registrations; // server role: our registration with each allocator
    hf_websocket_front websocket_front;
    hf_api api; // the HTTP API, if listen.api is set

    // A worker's allocator and metrics sockets, opened by the supervisor
    // and shared by every worker (-1: listen on listen.allocator and
    // metrics.listen), and the box they report to (null: not a worker).
    int inherited_allocator_fd = -1, inherited_metrics_fd = -1;
    // Non-zero once a module could not go on (hf_host_api.fatal): the
    // process exits with it.
    int exit_status = 0;
    hf_box *box = nullptr;
    hf_listener_ptr device_listener;
    hf_listener_ptr allocator_listener;
    hf_listener_ptr websocket_listener; // browsers, if listen.websocket is set

    hf_event_ptr expire_timer;
    hf_event_ptr presence_timer;
    std::vector<hf_event_ptr> signal_events;
    uint64_t stop_deadline_ms = 0; // draining: monotonic time to stop waiting for devices
    hf_event_ptr stop_timer;

    hf_metrics metrics;
    hf_readiness readiness; // roles standalone and server
};

// Loads modules, opens listeners and timers. False and *err on failure.
bool hf_daemon_start(hf_daemon *d, std::string *err);

// A box's worker process (hf_supervisor_options.worker_main): a daemon on
// what the supervisor hands it, started, said on start.ready_fd, and run
// to its end; its exit status.
int hf_daemon_worker_main(const hf_worker_start &start);
// Runs the reactor until SIGTERM/SIGINT; then closes everything.
void hf_daemon_run(hf_daemon *d);
// Frees modules and the reactor.
void hf_daemon_shutdown(hf_daemon *d);
