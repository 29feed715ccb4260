// One bench device: a TLS link that says HELLO, then reports DELIVERs and
// SEND_ACKs to its scenario. Acknowledgements are cumulative and sent once
// per burst of DELIVERs, as a well-behaved client does.
#pragma once
#include <cstdint>
#include <string>

#include "bench/bench.h"
#include "proto/msg.h"

struct hf_link;
struct event;
struct bench_device;

struct bench_device_events {
    void (*on_ready)(bench_device *d);                    // WELCOME came
    void (*on_deliver)(bench_device *d, const hf_msg *m); // one DELIVER
    void (*on_send_ack)(bench_device *d, const hf_msg *m);
    void (*on_closed)(bench_device *d, bool was_ready, const char *why); // the link is gone
};

struct bench_device {
    bench_ctx *ctx = nullptr;
    const bench_device_events *events = nullptr;
    void *owner = nullptr;
    size_t index = 0; // the scenario's number for this device
    size_t home = 0;  // which of opt.servers bench_fleet_connect_all connects it to
    std::string account, device;
    hf_link *link = nullptr;
    bool ready = false;
    bool auto_ack = true;    // acknowledge every DELIVER
    uint64_t next_id = 1;    // of this device's SENDs
    uint64_t ack_upto = 0;   // highest seq to acknowledge
    uint64_t acked_upto = 0; // highest seq acknowledged
    event *ack_event = nullptr;
    std::string payload_scratch;
    SSL_SESSION *tls_session = nullptr; // offered on reconnect (storm)
};

// Connects to ctx->opt.servers[server]; false (and a line on stderr) when
// the connection cannot even start.
bool bench_device_connect(bench_device *d, size_t server);

// Sends one message; returns its id.
uint64_t bench_device_send(bench_device *d, const char *to, const std::string &payload);

// Sends a PING (heartbeat).
void bench_device_ping(bench_device *d);

// Closes the link and frees what the device holds.
void bench_device_close(bench_device *d);
