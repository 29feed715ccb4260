// Prometheus text at http://metrics.listen/metrics and a liveness check at
// /healthz, on the daemon's own loop (libevent's evhttp). Every metric is
// listed in handoffd(8).
#pragma once
#include <event2/http.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/allocator/allocator.h"
#include "core/api/api.h"
#include "core/conn/conn.h"
#include "core/server/server.h"

// What the page reads, and the listener's own state.
struct hf_metrics {
    const hf_config *cfg = nullptr;
    const hf_stats *stats = nullptr;
    const hf_conn_pool *conns = nullptr;
    hf_server *server = nullptr; // its store is asked for depth and usage
    const hf_allocator *allocator = nullptr;
    const hf_api *api = nullptr; // its answers, counted
    std::unique_ptr<evhttp, void (*)(evhttp *)> http{nullptr, nullptr};
    int64_t queue_depth = -1;                                // the store's last answer; -1 before any
    int64_t store_used_bytes = -1, store_capacity_bytes = 0; // likewise, from the store's usage op
};

// Opens the metrics listener on base unless metrics.listen is empty.
bool hf_metrics_start(hf_metrics *m, event_base *base, std::string *err);

// The whole /metrics page.
std::string hf_metrics_render(hf_metrics *m);
