// The daemon's counters behind /metrics (see handoffd(8)): one struct that
// every part counts into and the metrics page reads.
#pragma once
#include <cstddef>
#include <cstdint>

#include "handoff/protocol.h"

// A Prometheus histogram of durations, in microseconds.
struct hf_histogram {
    static constexpr uint64_t bounds_us[] = {100,   250,   500,    1000,   2500,   5000,   10000,
                                             25000, 50000, 100000, 250000, 500000, 1000000};
    static constexpr size_t bucket_count = sizeof bounds_us / sizeof bounds_us[0];
    uint64_t buckets[bucket_count] = {}; // observations <= each bound
    uint64_t count = 0;
    uint64_t sum_us = 0;
};

void hf_histogram_observe(hf_histogram *h, uint64_t us);

// What became of a Web Push POST (or DELETE) to a push resource
// (docs/push.md), by its answer.
enum class hf_push_outcome {
    accepted,     // 201
    cancelled,    // 204: DELETE on a push's Location
    too_large,    // 413
    unauthorized, // 401, 403: VAPID
    gone,         // 410: unsubscribed, or the device revoked
    rate_limited, // 429: push.rate, or a full queue or account
    not_found,    // 404: no endpoint this server sealed
    bad_request,  // 400, 405, 415
    failed,       // 5xx: the store, or the account's server away
    count
};
const char *hf_push_outcome_name(hf_push_outcome o);

// Wake-ups (docs/wake.md) are counted by provider (core/wake's
// hf_wake_provider: webpush, fcm, apns) and outcome (hf_wake_outcome:
// sent, gone, retry, failed; then rate_limited, not sent).
#define HF_WAKE_PROVIDER_COUNT 3
#define HF_WAKE_RATE_LIMITED 4
#define HF_WAKE_OUTCOME_COUNT 5

// Every field is a uint64_t counter, or a histogram of them: the box
// (core/shell/metrics_sample.cc) adds workers' stats up as an array.
struct hf_stats {
    uint64_t connections_accepted = 0;
    uint64_t tls_handshakes = 0; // completed
    uint64_t tls_resumed = 0;    // of those, resumed sessions
    uint64_t tls_detached = 0;   // of those, handed from OpenSSL to our record layer
    uint64_t tls_handshake_failures = 0;
    uint64_t hello_refused = 0;
    uint64_t heartbeat_timeouts = 0;
    uint64_t messages_received = 0;
    uint64_t messages_delivered = 0; // DELIVER frames acknowledged
    uint64_t messages_stored = 0;
    uint64_t messages_rejected[HF_ERR_MAX + 1] = {}; // by reason
    uint64_t messages_expired = 0;
    uint64_t messages_dead_lettered = 0; // moved to their device's dead-letter list: it cannot take them
    uint64_t queue_stops = 0;            // queues stopped at a stored message that does not decode
    uint64_t seq_mismatches = 0;         // a device acknowledged a seq it was sent as another message (router.cc)
    hf_histogram store_enqueue_seconds;
    hf_histogram store_fetch_seconds;
    uint64_t protocol_errors = 0;
    uint64_t alloc_answers = 0;
    uint64_t alloc_home_away = 0;       // ALLOC_REQs of an account whose fixed server (cluster.servers) was away
    uint64_t registrations_refused = 0; // REGISTERs an allocator refused: unknown server, wrong key, weight
    uint64_t pushes[size_t(hf_push_outcome::count)] = {};
    uint64_t wakeups[HF_WAKE_PROVIDER_COUNT][HF_WAKE_OUTCOME_COUNT] = {};
    uint64_t wakeups_coalesced = 0; // messages stored for a sleeping device already woken (or being woken)
};
