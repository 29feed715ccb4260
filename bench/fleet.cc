#include "bench/fleet.h"

#include <event2/event.h>

#include <cstdio>

#include "proto/clock.h"

namespace
{

bench_fleet *fleet_of(bench_device *d)
{
    return static_cast<bench_fleet *>(d->owner);
}

void pump(bench_fleet *f)
{
    while (f->connecting < f->ctx->opt.concurrency && !f->to_connect.empty()) {
        auto [d, server] = f->to_connect.front();
        f->to_connect.pop_front();
        if (bench_device_connect(d, server))
            f->connecting++;
        else
            f->failed++;
    }
}

void on_ready(bench_device *d)
{
    bench_fleet *f = fleet_of(d);
    f->connecting--;
    f->ready++;
    if (f->scenario->on_ready)
        f->scenario->on_ready(d);
    pump(f);
}

void on_deliver(bench_device *d, const hf_msg *m)
{
    fleet_of(d)->scenario->on_deliver(d, m);
}

void on_send_ack(bench_device *d, const hf_msg *m)
{
    fleet_of(d)->scenario->on_send_ack(d, m);
}

void on_closed(bench_device *d, bool was_ready, const char *why)
{
    bench_fleet *f = fleet_of(d);
    if (was_ready) {
        f->ready--;
    } else {
        f->connecting--;
        f->failed++;
        if (f->failed <= 5)
            fprintf(stderr, "handoff-bench: %s/%s: %s\n", d->account.c_str(), d->device.c_str(), why);
    }
    if (f->scenario->on_closed)
        f->scenario->on_closed(d, was_ready, why);
    pump(f);
}

const bench_device_events fleet_events = {on_ready, on_deliver, on_send_ack, on_closed};

void ping_all(evutil_socket_t, short, void *arg)
{
    auto *f = static_cast<bench_fleet *>(arg);
    for (auto &d : f->devices)
        if (d->ready)
            bench_device_ping(d.get());
}

bool all_settled(void *arg)
{
    auto *f = static_cast<bench_fleet *>(arg);
    return f->to_connect.empty() && f->connecting == 0;
}

} // namespace

bench_device *bench_fleet_add(bench_fleet *f, const std::string &account, const std::string &device)
{
    auto d = std::make_unique<bench_device>();
    d->ctx = f->ctx;
    d->events = &fleet_events;
    d->owner = f;
    d->account = account;
    d->device = device;
    f->devices.push_back(std::move(d));
    if (!f->heartbeat) {
        f->heartbeat = event_new(f->ctx->base, -1, EV_PERSIST, ping_all, f);
        uint64_t every_ms = f->ctx->opt.heartbeat_ms * 2 / 3;
        timeval tv = hf_timeval_ms(every_ms);
        event_add(f->heartbeat, &tv);
    }
    return f->devices.back().get();
}

void bench_fleet_connect(bench_fleet *f, bench_device *d, size_t server)
{
    f->to_connect.emplace_back(d, server);
    pump(f);
}

double bench_fleet_connect_all(bench_fleet *f)
{
    uint64_t start = hf_mono_us();
    for (auto &d : f->devices)
        f->to_connect.emplace_back(d.get(), d->home);
    pump(f);
    if (!bench_run_until(f->ctx, all_settled, f, f->ctx->opt.timeout_s))
        return -1;
    return double(hf_mono_us() - start) / 1e6;
}

void bench_fleet_close(bench_fleet *f)
{
    for (auto &d : f->devices)
        bench_device_close(d.get());
    if (f->heartbeat)
        event_free(f->heartbeat);
    f->heartbeat = nullptr;
}
