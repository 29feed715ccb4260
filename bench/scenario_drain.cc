// drain: a sender queues --count messages for a device that is offline
// (each SEND_ACK "stored" comes only once the store holds it durably), then
// the device connects and the queue drains into it. --phase queue and
// --phase receive split the two, so the daemon can be killed in between;
// every message carries its number, so losses and duplicates are counted.
#include <cstring>

#include "bench/fleet.h"
#include "bench/measure.h"
#include "proto/clock.h"

namespace
{

struct drain {
    bench_ctx *ctx = nullptr;
    bench_fleet fleet;
    bench_device *sender = nullptr;
    uint64_t sent = 0, in_flight = 0, stored = 0, other_acks = 0;
    std::vector<bool> seen; // by message number
    uint64_t received = 0, distinct = 0, duplicates = 0;
    std::string payload;
};

void fill(drain *s)
{
    while (s->in_flight < s->ctx->opt.window && s->sent < s->ctx->opt.count) {
        bench_stamp(&s->payload, std::max<uint64_t>(s->ctx->opt.size, 16));
        memcpy(s->payload.data() + 8, &s->sent, 8);
        bench_device_send(s->sender, "sink", s->payload);
        s->sent++;
        s->in_flight++;
    }
}

void on_send_ack(bench_device *d, const hf_msg *m)
{
    drain *s = bench_fleet_owner<drain>(d);
    s->in_flight--;
    if (m->status == HF_SEND_STORED)
        s->stored++;
    else
        s->other_acks++;
    fill(s);
}

void on_deliver(bench_device *d, const hf_msg *m)
{
    drain *s = bench_fleet_owner<drain>(d);
    s->received++;
    uint64_t number = UINT64_MAX;
    if (m->payload.size() >= 16)
        memcpy(&number, m->payload.data() + 8, 8);
    if (number >= s->seen.size())
        return; // not one of ours
    if (s->seen[number])
        s->duplicates++;
    else
        s->distinct++;
    s->seen[number] = true;
}

const bench_device_events events = {nullptr, on_deliver, on_send_ack, nullptr};

bool all_acked(void *arg)
{
    auto *s = static_cast<drain *>(arg);
    return s->sent == s->ctx->opt.count && s->in_flight == 0;
}

bool all_received(void *arg)
{
    auto *s = static_cast<drain *>(arg);
    return s->distinct == s->ctx->opt.count;
}

} // namespace

int bench_drain(bench_ctx *ctx)
{
    const bench_options &o = ctx->opt;
    drain s;
    s.ctx = ctx;
    s.fleet.ctx = ctx;
    s.fleet.scenario = &events;
    s.fleet.owner = &s;
    s.seen.assign(o.count, false);
    std::string account = o.account.empty() ? bench_account(ctx, ctx->run_id + "-d") : o.account;
    bench_report r;
    r.scenario = "drain";
    bench_report_text(&r, "account", account);
    bench_report_text(&r, "phase", o.phase);
    bench_report_number(&r, "messages", double(o.count), "");
    bench_report_number(&r, "size", double(o.size), "bytes");
    bool ok = true;

    if (o.phase != "receive") {
        s.sender = bench_fleet_add(&s.fleet, account, "s");
        if (bench_fleet_connect_all(&s.fleet) < 0 || !s.sender->ready) {
            fprintf(stderr, "handoff-bench: drain: the sender could not connect\n");
            return 1;
        }
        uint64_t start = hf_mono_us();
        fill(&s);
        ok = bench_run_until(ctx, all_acked, &s, o.timeout_s) && s.stored == o.count;
        double seconds = double(hf_mono_us() - start) / 1e6;
        bench_report_number(&r, "window", double(o.window), "");
        bench_report_number(&r, "stored", double(s.stored), "acknowledged as stored");
        bench_report_number(&r, "not_stored", double(s.other_acks), "delivered or rejected");
        bench_report_number(&r, "queue_s", seconds, "s", 3);
        bench_report_number(&r, "queued_per_s", double(s.stored) / seconds, "msgs/s");
        bench_device_close(s.sender);
    }
    if (ok && o.phase != "queue") {
        bench_device *sink = bench_fleet_add(&s.fleet, account, "sink");
        uint64_t start = hf_mono_us();
        bench_fleet_connect(&s.fleet, sink, 0);
        bool drained = bench_run_until(ctx, all_received, &s, o.timeout_s);
        double seconds = double(hf_mono_us() - start) / 1e6;
        bench_report_number(&r, "received", double(s.distinct), "distinct");
        bench_report_number(&r, "lost", double(o.count - s.distinct), "");
        bench_report_number(&r, "duplicates", double(s.duplicates), "");
        bench_report_number(&r, "drain_s", seconds, "s", 3);
        bench_report_number(&r, "drained_per_s", double(s.distinct) / seconds, "msgs/s");
        ok = drained;
    }
    bench_report_text(&r, "complete", ok ? "yes" : "no");
    bench_report_print(&r);
    bench_fleet_close(&s.fleet);
    return ok ? 0 : 1;
}
