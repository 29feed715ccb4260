// What one process's /metrics shows, as plain numbers: a sample of its
// counters and gauges. A worker publishes its sample to the box (box.h)
// every second; whichever worker takes a scrape adds the samples up into
// the box's page. Plain data, no pointers: it lives in shared memory.
#pragma once
#include <cstdint>

#include "core/common/stats.h"
#include "core/conn/limits.h"

// Answers of the HTTP API, by route and status.
struct hf_api_count {
    char route[16]; // a route's name (api_http.cc), NUL-terminated
    int32_t status;
    uint64_t n;
};

struct hf_metrics_sample {
    hf_stats stats;
    uint64_t limit_hits[int(hf_limit::count)] = {};
    static constexpr int api_count_max = 64; // routes x statuses; more are not counted
    hf_api_count api[api_count_max] = {};
    int32_t api_used = 0;
    // Gauges.
    uint64_t connections = 0, online_devices = 0, inflight = 0, sends_waiting = 0, registered_servers = 0;
    uint64_t draining = 0;
    // -1 (capacity: 0): the store has not said.
    int64_t queue_depth = -1, store_used_bytes = -1, store_capacity_bytes = 0;
    // The process (in a box: the worker); the box's page shows their sums,
    // and the earliest start.
    uint64_t resident_bytes = 0, open_fds = 0, cpu_us = 0, started_ms = 0;
    // Readiness's parts as gauges: the store answers and can acknowledge
    // (1/0, 1 without a store); allocators that accepted the registration.
    uint64_t store_up = 1, registrations_accepted = 0;
    // Why the worker is not ready (readiness.h), one reason a line,
    // NUL-terminated and cut to fit; empty when ready.
    char not_ready[512] = {};
};

// Adds the counter s counts for route and status.
void hf_api_count_add(hf_metrics_sample *s, const char *route, int status, uint64_t n);

// Adds every counter of part to *total.
void hf_stats_add(hf_stats *total, const hf_stats &part);

// Adds part's counters and gauges to *total. What a shared store says of
// itself (the same store behind every worker) is not added: the caller
// takes it from one worker.
void hf_metrics_sample_add(hf_metrics_sample *total, const hf_metrics_sample &part, bool store_shared);
