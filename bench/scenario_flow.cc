// pairs and fanout: senders keep up to --window messages unacknowledged
// (SEND_ACK "delivered" comes once every target has acknowledged), the
// receivers acknowledge each burst and take the latency from the send time
// in the payload. --rate paces the senders instead, for latency at a
// fixed load.
#include <event2/event.h>

#include <cstring>

#include "bench/fleet.h"
#include "bench/measure.h"
#include "bench/soak.h"
#include "proto/clock.h"

namespace
{

struct flow_sender {
    bench_device *dev = nullptr;
    std::string to;
    uint64_t to_send = 0, sent = 0, acked = 0, in_flight = 0;
    double credit = 0; // messages it may send now under --rate
};

struct flow {
    bench_ctx *ctx = nullptr;
    bench_fleet fleet;
    std::vector<flow_sender> senders; // by device index
    uint64_t targets_per_send = 1;
    uint64_t expected = 0, delivered = 0;
    uint64_t acks[3] = {}; // by SEND_ACK status
    bench_latency latency;
    std::string payload;
    bool started = false;
    uint64_t start_us = 0, last_deliver_us = 0, last_pace_us = 0;
    uint64_t deadline_us = 0; // with --seconds: no sends after it
    double rate_per_sender = 0;
};

void fill(flow *f, flow_sender *s)
{
    uint64_t window = f->ctx->opt.window;
    if (f->deadline_us && hf_mono_us() >= f->deadline_us)
        return;
    while (s->in_flight < window && s->sent < s->to_send && (f->rate_per_sender == 0 || s->credit >= 1)) {
        bench_stamp(&f->payload, f->ctx->opt.size);
        bench_device_send(s->dev, s->to.c_str(), f->payload);
        s->sent++;
        s->in_flight++;
        if (f->rate_per_sender > 0)
            s->credit -= 1;
    }
}

void on_deliver(bench_device *d, const hf_msg *m)
{
    flow *f = bench_fleet_owner<flow>(d);
    bench_latency_add(&f->latency, bench_stamp_age_us(m->payload.data(), m->payload.size()));
    f->delivered++;
    f->last_deliver_us = hf_mono_us();
}

void on_send_ack(bench_device *d, const hf_msg *m)
{
    flow *f = bench_fleet_owner<flow>(d);
    flow_sender &s = f->senders[d->index];
    s.in_flight--;
    s.acked++;
    if (m->status < 3)
        f->acks[m->status]++;
    if (m->status == HF_SEND_REJECTED)
        f->expected -= f->targets_per_send;
    fill(f, &s);
}

const bench_device_events events = {nullptr, on_deliver, on_send_ack, nullptr};

void pace(evutil_socket_t, short, void *arg)
{
    auto *f = static_cast<flow *>(arg);
    uint64_t now = hf_mono_us();
    double add = f->rate_per_sender * double(now - f->last_pace_us) / 1e6;
    f->last_pace_us = now;
    for (flow_sender &s : f->senders) {
        if (!s.dev)
            continue;
        // At most a window's worth of credit, so a stall is not followed by a burst.
        s.credit = std::min(s.credit + add, double(f->ctx->opt.window));
        fill(f, &s);
    }
}

bool finished(void *arg)
{
    auto *f = static_cast<flow *>(arg);
    if (f->deadline_us) {
        if (hf_mono_us() < f->deadline_us)
            return false;
        for (const flow_sender &s : f->senders)
            if (s.in_flight)
                return false;
        return true;
    }
    if (f->delivered < f->expected)
        return false;
    for (const flow_sender &s : f->senders)
        if (s.dev && s.acked < s.to_send)
            return false;
    return true;
}

// Runs the flow once the fleet is connected, and reports.
int run(flow *f, const char *scenario, uint64_t messages)
{
    const bench_options &o = f->ctx->opt;
    double connect_s = bench_fleet_connect_all(&f->fleet);
    if (connect_s < 0 || f->fleet.failed) {
        fprintf(stderr, "handoff-bench: %s: %zu of %zu devices connected\n", scenario, f->fleet.ready,
                f->fleet.devices.size());
        bench_fleet_close(&f->fleet);
        return 1;
    }
    uint64_t cpu_before = bench_cpu_us_sum(o.pids), store_cpu_before = bench_cpu_us_sum(o.store_pids);
    f->start_us = f->last_pace_us = hf_mono_us();
    event *pacer = nullptr;
    size_t sender_count = 0;
    for (const flow_sender &s : f->senders)
        sender_count += s.dev != nullptr;
    if (o.rate > 0) {
        f->rate_per_sender = o.rate / double(sender_count);
        pacer = event_new(f->ctx->base, -1, EV_PERSIST, pace, f);
        timeval ms = {0, 1000};
        event_add(pacer, &ms);
    }
    bench_soak *soak = nullptr;
    if (o.seconds > 0) {
        f->deadline_us = f->start_us + uint64_t(o.seconds * 1e6);
        soak = bench_soak_start(f->ctx, &f->delivered);
    }
    for (flow_sender &s : f->senders)
        if (s.dev)
            fill(f, &s);
    bool done = bench_run_until(f->ctx, finished, f, o.seconds + o.timeout_s);
    uint64_t cpu_after = bench_cpu_us_sum(o.pids), store_cpu_after = bench_cpu_us_sum(o.store_pids);
    if (pacer)
        event_free(pacer);
    double seconds = double((f->last_deliver_us ? f->last_deliver_us : hf_mono_us()) - f->start_us) / 1e6;

    bench_report r;
    r.scenario = scenario;
    bench_report_number(&r, "senders", double(sender_count), "");
    bench_report_number(&r, "size", double(o.size), "bytes");
    bench_report_number(&r, "window", double(o.window), "per sender");
    bench_report_number(&r, "rate", o.rate, "msgs/s asked (0: unpaced)");
    if (soak)
        for (const flow_sender &s : f->senders)
            messages += s.sent;
    bench_report_number(&r, "messages", double(messages), "sent");
    bench_report_number(&r, "delivered", double(f->delivered), "");
    bench_report_number(&r, "acked_delivered", double(f->acks[HF_SEND_DELIVERED]), "");
    bench_report_number(&r, "acked_stored", double(f->acks[HF_SEND_STORED]), "");
    bench_report_number(&r, "rejected", double(f->acks[HF_SEND_REJECTED]), "");
    bench_report_number(&r, "seconds", seconds, "s", 3);
    bench_report_number(&r, "msgs_per_s", seconds > 0 ? double(f->delivered) / seconds : 0, "deliveries/s");
    bench_latency_report(&f->latency, &r);
    if (o.pid && f->delivered)
        bench_report_number(&r, "daemon_cpu_us_per_msg", double(cpu_after - cpu_before) / double(f->delivered), "us",
                            2);
    if (!o.store_pids.empty() && f->delivered)
        bench_report_number(&r, "store_cpu_us_per_msg",
                            double(store_cpu_after - store_cpu_before) / double(f->delivered), "us", 2);
    bench_report_text(&r, "complete", done ? "yes" : "no (timed out)");
    int soak_rc = soak ? bench_soak_finish(soak, &r) : 0;
    bench_report_print(&r);
    bench_fleet_close(&f->fleet);
    return done && f->acks[HF_SEND_REJECTED] == 0 && soak_rc == 0 ? 0 : 1;
}

void setup(flow *f, bench_ctx *ctx)
{
    f->ctx = ctx;
    f->fleet.ctx = ctx;
    f->fleet.scenario = &events;
    f->fleet.owner = f;
}

bench_device *add(flow *f, const std::string &account, const std::string &device)
{
    bench_device *d = bench_fleet_add(&f->fleet, account, device);
    d->index = f->senders.size();
    f->senders.emplace_back();
    return d;
}

} // namespace

int bench_pairs(bench_ctx *ctx)
{
    flow f;
    setup(&f, ctx);
    const bench_options &o = ctx->opt;
    for (uint64_t i = 0; i < o.pairs; i++) {
        std::string account = bench_account(ctx, ctx->run_id + "-p" + std::to_string(i));
        bench_device *sender = add(&f, account, "s");
        // Given two servers, each receiver is on the second: a flow across servers.
        add(&f, account, "r")->home = o.servers.size() > 1 ? 1 : 0;
        flow_sender &s = f.senders[sender->index];
        s.dev = sender;
        s.to = "r";
        // The count split over the pairs, the remainder to the first.
        s.to_send = o.seconds > 0 ? UINT64_MAX : o.count / o.pairs + (i == 0 ? o.count % o.pairs : 0);
    }
    f.expected = o.count;
    return run(&f, o.seconds > 0 ? "soak" : "pairs", o.seconds > 0 ? 0 : o.count);
}

int bench_fanout(bench_ctx *ctx)
{
    flow f;
    setup(&f, ctx);
    const bench_options &o = ctx->opt;
    std::string account = bench_account(ctx, ctx->run_id + "-f");
    bench_device *sender = add(&f, account, "s");
    for (uint64_t i = 0; i < o.devices; i++)
        add(&f, account, "r" + std::to_string(i));
    flow_sender &s = f.senders[sender->index];
    s.dev = sender;
    s.to = "*";
    s.to_send = o.count;
    f.targets_per_send = o.devices;
    f.expected = o.count * o.devices;
    return run(&f, "fanout", o.count);
}
