// A set of bench devices connected with bounded concurrency (a real
// server sees a ramp, not one burst of thousands of handshakes) and kept
// alive with PINGs at the heartbeat interval.
#pragma once
#include <deque>
#include <memory>
#include <vector>

#include "bench/device.h"

struct event;

struct bench_fleet {
    bench_ctx *ctx = nullptr;
    const bench_device_events *scenario = nullptr; // on_ready/on_closed may be null
    void *owner = nullptr;
    std::vector<std::unique_ptr<bench_device>> devices;
    std::deque<std::pair<bench_device *, size_t>> to_connect; // device, server
    size_t connecting = 0;
    size_t ready = 0;
    size_t failed = 0; // connections that closed before WELCOME
    event *heartbeat = nullptr;
};

// The scenario state of a fleet's device.
template <typename T>
T *bench_fleet_owner(bench_device *d)
{
    return static_cast<T *>(static_cast<bench_fleet *>(d->owner)->owner);
}

// Adds a device (not yet connected).
bench_device *bench_fleet_add(bench_fleet *f, const std::string &account, const std::string &device);

// Queues a device to connect to ctx->opt.servers[server].
void bench_fleet_connect(bench_fleet *f, bench_device *d, size_t server);

// Queues every device to connect to its home server, runs until all are
// ready (or failed), and returns the seconds it took; negative on timeout.
double bench_fleet_connect_all(bench_fleet *f);

// Closes every device.
void bench_fleet_close(bench_fleet *f);
