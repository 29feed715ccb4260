// storm: N devices (two per account) on the first server. Each sends its
// sibling one message, received but left unacknowledged, so it is still in
// the shared store when the first server is killed (SIGKILL, by the bench,
// so the clock starts at the kill). Every device then reconnects to the
// second server and, once there, sends its sibling a second message. Both
// must arrive after the move: the first again, since it was never
// acknowledged. Measured: the time until all are re-homed, until every
// message has arrived, and how many were lost. Both servers must share a
// store (Redis).
#include <signal.h>

#include "bench/fleet.h"
#include "bench/measure.h"
#include "proto/clock.h"

namespace
{

const uint64_t messages_per_device = 2; // one before the kill, one after

struct storm {
    bench_ctx *ctx = nullptr;
    bench_fleet fleet;
    bool killed = false;
    uint64_t kill_us = 0, last_ready_us = 0, last_deliver_us = 0;
    std::vector<uint8_t> got; // per device: bit (id - 1) for each message id seen
    uint64_t before_kill = 0, rehomed = 0, complete = 0, duplicates = 0;
};

const char *sibling(const bench_device *d)
{
    return d->device == "x" ? "y" : "x";
}

void on_ready(bench_device *d)
{
    storm *s = bench_fleet_owner<storm>(d);
    if (!s->killed) {
        // Held in the store until after the kill: not acknowledged.
        d->auto_ack = false;
        bench_device_send(d, sibling(d), "before the kill");
        return;
    }
    s->rehomed++;
    s->last_ready_us = hf_mono_us();
    bench_device_send(d, sibling(d), "after the kill");
}

void on_deliver(bench_device *d, const hf_msg *m)
{
    storm *s = bench_fleet_owner<storm>(d);
    uint8_t bit = uint8_t(1u << (m->id - 1));
    if (m->id < 1 || m->id > messages_per_device)
        return;
    if (!s->killed) {
        s->before_kill++; // not acknowledged: it must come again
        return;
    }
    uint8_t &got = s->got[d->index];
    if (got & bit) {
        s->duplicates++;
        return;
    }
    got |= bit;
    if (got == (1u << messages_per_device) - 1) {
        s->complete++;
        s->last_deliver_us = hf_mono_us();
    }
}

void on_send_ack(bench_device *, const hf_msg *) {}

void on_closed(bench_device *d, bool, const char *)
{
    storm *s = bench_fleet_owner<storm>(d);
    if (s->killed) {
        d->auto_ack = true;
        bench_fleet_connect(&s->fleet, d, 1);
    }
}

const bench_device_events events = {on_ready, on_deliver, on_send_ack, on_closed};

bool all_held(void *arg)
{
    auto *s = static_cast<storm *>(arg);
    return s->before_kill == s->fleet.devices.size();
}

bool all_done(void *arg)
{
    auto *s = static_cast<storm *>(arg);
    return s->rehomed == s->fleet.devices.size() && s->complete == s->fleet.devices.size();
}

} // namespace

int bench_storm(bench_ctx *ctx)
{
    const bench_options &o = ctx->opt;
    if (o.servers.size() < 2 || o.kill <= 0) {
        fprintf(stderr, "handoff-bench: storm needs two --server addresses and --kill PID of the first\n");
        return 2;
    }
    storm s;
    s.ctx = ctx;
    s.fleet.ctx = ctx;
    s.fleet.scenario = &events;
    s.fleet.owner = &s;
    uint64_t accounts = (o.connections + 1) / 2;
    for (uint64_t i = 0; i < accounts * 2; i++) {
        bench_device *d = bench_fleet_add(&s.fleet, bench_account(ctx, ctx->run_id + "-s" + std::to_string(i / 2)),
                                          i % 2 ? "y" : "x");
        d->index = i;
    }
    s.got.assign(s.fleet.devices.size(), 0);
    if (bench_fleet_connect_all(&s.fleet) < 0 || s.fleet.failed) {
        fprintf(stderr, "handoff-bench: storm: %zu of %zu devices connected\n", s.fleet.ready, s.fleet.devices.size());
        bench_fleet_close(&s.fleet);
        return 1;
    }
    bool held = bench_run_until(ctx, all_held, &s, o.timeout_s);
    s.killed = true;
    s.kill_us = hf_mono_us();
    kill(o.kill, SIGKILL);
    bool done = held && bench_run_until(ctx, all_done, &s, o.timeout_s);
    uint64_t expected = s.fleet.devices.size() * messages_per_device;
    uint64_t arrived = 0;
    for (uint8_t got : s.got)
        arrived += __builtin_popcount(got);

    bench_report r;
    r.scenario = "storm";
    bench_report_number(&r, "devices", double(s.fleet.devices.size()), "");
    bench_report_number(&r, "rehomed", double(s.rehomed), "");
    bench_report_number(&r, "rehome_s", s.last_ready_us ? double(s.last_ready_us - s.kill_us) / 1e6 : -1, "s", 3);
    bench_report_number(&r, "all_delivered_s",
                        s.last_deliver_us > s.kill_us ? double(s.last_deliver_us - s.kill_us) / 1e6 : -1, "s", 3);
    bench_report_number(&r, "messages", double(expected), "");
    bench_report_number(&r, "lost", double(expected - arrived), "");
    bench_report_number(&r, "duplicates", double(s.duplicates), "after the move");
    bench_report_text(&r, "complete", done ? "yes" : "no (timed out)");
    bench_report_print(&r);
    bench_fleet_close(&s.fleet);
    return done && arrived == expected ? 0 : 1;
}
