// Prometheus text at http://metrics.listen/metrics and a liveness check at
// /healthz, on the daemon's own loop (libevent's evhttp). Every metric is
// listed in handoffd(8). A worker (workers = N) answers for the whole box:
// it publishes its own sample to the box every second, and a scrape that
// comes to it adds up every worker's (box.h).
#pragma once
#include <event2/http.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/allocator/allocator.h"
#include "core/api/api.h"
#include "core/common/event_ptr.h"
#include "core/conn/conn.h"
#include "core/server/server.h"
#include "core/box/box.h"
#include "core/shell/readiness.h"
#include "core/conn/http_guard.h"
#include "proto/clock.h"

// What the page reads, and the listener's own state. The counters are
// written only when a restarted worker takes up its last published ones.
struct hf_metrics {
    const hf_config *cfg = nullptr;
    hf_stats *stats = nullptr;
    hf_conn_pool *conns = nullptr;
    hf_server *server = nullptr; // its store is asked for depth and usage
    const hf_allocator *allocator = nullptr;
    hf_api *api = nullptr;                   // its answers, counted
    hf_box *box = nullptr;                   // a worker's: the box it publishes to and reads (worker index in cfg)
    const hf_readiness *readiness = nullptr; // roles with a server: /readyz's own part
    int inherited_fd = -1; // a worker's: the metrics socket the supervisor opened (-1: bind metrics.listen)
    std::unique_ptr<evhttp, void (*)(evhttp *)> http{nullptr, nullptr};
    evhttp_bound_socket *listening = nullptr;                // http's socket, until hf_metrics_stop_listening
    hf_http_guard guard;                                     // metrics.max_connections
    hf_event_ptr publish_timer;                              // a worker's: its sample to the box, every second
    int64_t queue_depth = -1;                                // the store's last answer; -1 before any
    int64_t store_used_bytes = -1, store_capacity_bytes = 0; // likewise, from the store's usage op
    uint64_t started_ms = hf_wall_ms();                      // process_start_time_seconds
};

// Opens the metrics listener on base unless metrics.listen is empty. A
// worker takes up the counters its slot holds from before a restart (so
// the box's counters never go back), and starts publishing.
bool hf_metrics_start(hf_metrics *m, event_base *base, std::string *err);

// Takes no more scrapes; those already accepted are still answered. A
// drained worker calls it before it exits, so the scrapes it took are not
// cut and the next ones go to the workers still running.
void hf_metrics_stop_listening(hf_metrics *m);

// The sums /metrics shows (this process's numbers, or the box's) and, in
// a box, how many workers are up.
void hf_metrics_totals(hf_metrics *m, hf_metrics_sample *total, int *workers_up);

// The whole /metrics page: this process's, or the box's.
std::string hf_metrics_render(hf_metrics *m);
