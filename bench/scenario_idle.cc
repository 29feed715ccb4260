// idle: N devices connect (bounded concurrency) and stay, pinging at the
// heartbeat interval. Measures the connect rate and, with --pid, what each
// idle connection costs the daemon in memory and in CPU to set up.
#include <event2/event.h>

#include "bench/fleet.h"
#include "bench/measure.h"

namespace
{

void on_deliver(bench_device *, const hf_msg *) {}

void on_send_ack(bench_device *, const hf_msg *) {}

const bench_device_events events = {nullptr, on_deliver, on_send_ack, nullptr};

bool never(void *)
{
    return false;
}

} // namespace

int bench_idle(bench_ctx *ctx)
{
    const bench_options &o = ctx->opt;
    bench_fleet fleet;
    fleet.ctx = ctx;
    fleet.scenario = &events;
    for (uint64_t i = 0; i < o.connections; i++)
        bench_fleet_add(&fleet, bench_account(ctx, ctx->run_id + "-i" + std::to_string(i)), "d");
    uint64_t rss_before = o.pid ? bench_rss_kib(o.pid) : 0;
    uint64_t cpu_before = o.pid ? bench_cpu_us(o.pid) : 0;
    double seconds = bench_fleet_connect_all(&fleet);
    uint64_t cpu_after = o.pid ? bench_cpu_us(o.pid) : 0;
    size_t ready_after_connect = fleet.ready;
    // Hold them: heartbeats flow, idle buffers are released.
    bench_run_until(ctx, never, nullptr, o.hold_s);
    uint64_t rss_after = o.pid ? bench_rss_kib(o.pid) : 0;

    bench_report r;
    r.scenario = "idle";
    bench_report_number(&r, "connections", double(o.connections), "");
    bench_report_number(&r, "ready", double(ready_after_connect), "");
    bench_report_number(&r, "still_ready", double(fleet.ready), "after the hold");
    bench_report_number(&r, "failed", double(fleet.failed), "");
    bench_report_number(&r, "connect_s", seconds, "s", 3);
    if (seconds > 0)
        bench_report_number(&r, "connects_per_s", double(ready_after_connect) / seconds, "/s");
    if (o.pid && ready_after_connect) {
        bench_report_number(&r, "daemon_rss_before_kib", double(rss_before), "KiB");
        bench_report_number(&r, "daemon_rss_after_kib", double(rss_after), "KiB");
        bench_report_number(&r, "kib_per_connection", double(rss_after - rss_before) / double(ready_after_connect),
                            "KiB", 2);
        bench_report_number(&r, "daemon_cpu_ms_per_connect",
                            double(cpu_after - cpu_before) / 1000.0 / double(ready_after_connect), "ms", 3);
    }
    bench_report_print(&r);
    bench_fleet_close(&fleet);
    return seconds >= 0 && fleet.failed == 0 && fleet.ready == o.connections ? 0 : 1;
}
