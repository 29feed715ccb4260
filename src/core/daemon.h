// The one daemon context: everything mutable that handoffd holds lives
// here, reached from every callback through the pointer it carries.
#pragma once
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/limits.h"
#include "core/module.h"
#include "net/tls_record.h"
#include "proto/msg.h"

struct hf_conn;
struct hf_session;
struct hf_pending_send;
struct hf_target_copy;
struct hf_registration;

struct event_deleter {
    void operator()(event *e) const { event_free(e); }
};
struct event_base_deleter {
    void operator()(event_base *b) const { event_base_free(b); }
};
struct listener_deleter {
    void operator()(evconnlistener *l) const { evconnlistener_free(l); }
};
struct ssl_ctx_deleter {
    void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct tls_aead_deleter {
    void operator()(hf_tls_aead *a) const { hf_tls_aead_free(a); }
};
using hf_event_ptr = std::unique_ptr<event, event_deleter>;
struct hf_registration_deleter {
    void operator()(hf_registration *r) const; // in register.cc
};
using hf_listener_ptr = std::unique_ptr<evconnlistener, listener_deleter>;
using hf_ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_deleter>;

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

// Counters and gauges behind /metrics (see handoffd(8)).
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
    uint64_t messages_set_aside = 0; // acknowledged on a device's behalf: it could not take them
    hf_histogram store_enqueue_seconds;
    hf_histogram store_fetch_seconds;
    uint64_t protocol_errors = 0;
    uint64_t alloc_answers = 0;
    uint64_t limit_hits[int(hf_limit::count)] = {};
};

// When a limit was last logged, and how often it was hit since.
struct hf_limit_log {
    uint64_t last_logged_ms = 0;
    uint64_t unlogged = 0;
};

// A connection server as an allocator knows it from its REGISTERs.
struct hf_registered_server {
    std::string address;
    std::string websocket_url; // for browsers; empty if it has no WebSocket listener
    uint64_t weight = 1;
    uint64_t load = 0;
    bool draining = false;
    uint64_t expires_ms = 0; // monotonic: lapses unless refreshed by then
    hf_conn *conn = nullptr; // the connection its REGISTERs come on
};

// A message its device's connections ended on without acknowledging it.
struct hf_failed_delivery {
    uint64_t seq = 0;
    uint64_t times = 0;
    uint64_t last_ms = 0; // monotonic
};

struct hf_daemon {
    std::unique_ptr<event_base, event_base_deleter> base;
    hf_config cfg;
    hf_host_api host{};
    hf_ssl_ctx_ptr tls;
    std::unique_ptr<hf_tls_aead, tls_aead_deleter> tls_aead; // the connections' shared cipher contexts
    hf_listener_ptr device_listener;
    hf_listener_ptr allocator_listener;
    hf_listener_ptr websocket_listener; // browsers, if listen.websocket is set

    hf_loaded_module_ptr store_module;
    const hf_store_ops *store = nullptr;
    void *store_instance = nullptr;
    hf_loaded_module_ptr heartbeat_module;
    const hf_heartbeat_ops *heartbeat = nullptr;
    void *heartbeat_instance = nullptr;

    hf_decode_limits limits;
    uint64_t next_conn_id = 1;
    size_t open_connections = 0;
    std::unordered_map<std::string, uint32_t> connections_per_address; // raw address bytes -> open
    std::unordered_map<std::string, uint32_t> online_per_account;
    hf_limit_log limit_logs[int(hf_limit::count)];
    hf_conn *conns = nullptr;                                     // every open connection
    std::unordered_map<std::string, hf_session *> online_devices; // account '\0' device
    // What devices that just went offline had acknowledged, and when they
    // left (monotonic ms): a store answers an enqueue only after its sync,
    // and the device may have been sent, acknowledged and gone by then.
    std::unordered_map<std::string, std::pair<uint64_t, uint64_t>> recent_acks;
    // Devices whose connections ended with the same message the oldest
    // unacknowledged, by device key (delivery.max_attempts).
    std::unordered_map<std::string, hf_failed_delivery> failed_deliveries;

    // Sends waiting for their targets' acknowledgement, oldest first. They
    // all wait the same delivery.ack_wait, so a FIFO and one timer suffice.
    std::deque<hf_pending_send *> awaiting_ack;
    hf_event_ptr ack_wait_timer;
    // Target copies their targets acknowledged, settled together once
    // delivery.ack_batch has passed (see route.cc).
    std::vector<hf_target_copy *> acked_copies;
    hf_event_ptr ack_batch_timer;
    hf_event_ptr expire_timer;
    hf_event_ptr presence_timer;

    // libevent common timeouts, by duration in ms: all timers of one
    // duration share a queue instead of each sitting in the heap.
    std::map<uint64_t, const timeval *> common_timeouts;

    // Allocator role: registered servers, by server id.
    std::map<std::string, hf_registered_server> registered_servers;
    // Server role: one registration per allocator, and the other servers'
    // addresses as the allocators last listed them (for GOAWAY).
    std::vector<std::unique_ptr<hf_registration, hf_registration_deleter>> registrations;
    std::vector<std::string> peer_addresses;
    hf_ssl_ctx_ptr tls_client;

    std::vector<hf_event_ptr> signal_events;
    bool stopping = false; // SIGTERM: draining, then exit
    uint64_t stop_deadline_ms = 0;
    hf_event_ptr stop_timer;

    std::unique_ptr<evhttp, void (*)(evhttp *)> metrics_http{nullptr, nullptr};
    // Connections with frames queued in this reactor pass, written out
    // together once the pass's events are handled (see hf_conn_send).
    std::vector<hf_conn *> flush_queue;
    hf_event_ptr flush_event;
    hf_stats stats;
    int64_t queue_depth = -1;                                // the store's last answer; -1 before any
    int64_t store_used_bytes = -1, store_capacity_bytes = 0; // likewise, from the store's usage op
};

// Loads modules, opens listeners and timers. False and *err on failure.
bool hf_daemon_start(hf_daemon *d, std::string *err);
// Runs the reactor until SIGTERM/SIGINT; then closes everything.
void hf_daemon_run(hf_daemon *d);
// Frees modules and the reactor.
void hf_daemon_shutdown(hf_daemon *d);

// A timeval for ms, shared through libevent's common timeouts.
const timeval *hf_daemon_timeout(hf_daemon *d, uint64_t ms);

// Key of the online table and store queues: account '\0' device.
std::string hf_device_key(std::string_view account, std::string_view device);
