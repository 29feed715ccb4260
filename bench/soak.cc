#include "bench/soak.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/device.h"
#include "bench/measure.h"
#include "proto/clock.h"

namespace
{

struct sample {
    double elapsed_s = 0;
    uint64_t delivered = 0, churned = 0;
    uint64_t cpu_us = 0; // the daemon's, since it started
    uint64_t anon_kib = 0, file_kib = 0, fds = 0;
    double store_used = -1, store_full = -1; // from /metrics; -1 unknown
    double store_file = -1;                  // bytes on disk; -1 unknown
};

struct churn_slot {
    bench_soak *soak = nullptr;
    bench_device dev;
    bool busy = false; // connecting or connected
    event *leave = nullptr;
};

} // namespace

struct bench_soak {
    bench_ctx *ctx = nullptr;
    const uint64_t *delivered = nullptr;
    uint64_t start_us = 0, last_churn_us = 0;
    std::vector<sample> samples;
    std::vector<std::unique_ptr<churn_slot>> slots;
    double churn_credit = 0;
    uint64_t churned = 0, churn_failed = 0;
    event *sampler = nullptr, *churner = nullptr;
};

namespace
{

// Enough devices that a churn of a few hundred a second never waits for
// one to come back.
const size_t churn_devices = 32;

// One series of the daemon's /metrics (plain HTTP on loopback), or -1.
double scrape(const std::string &address, const char *series)
{
    std::string host = address.substr(0, address.rfind(':'));
    int port = atoi(address.c_str() + address.rfind(':') + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(uint16_t(port));
    timeval two_s = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &two_s, sizeof two_s);
    std::string page;
    if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) == 1 &&
        connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0) {
        const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
        if (write(fd, req, sizeof req - 1) == ssize_t(sizeof req - 1)) {
            char buf[16384];
            for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                page.append(buf, size_t(n));
        }
    }
    close(fd);
    std::string key = std::string("\n") + series + " ";
    size_t at = page.find(key);
    return at == std::string::npos ? -1 : strtod(page.c_str() + at + key.size(), nullptr);
}

void take_sample(bench_soak *s)
{
    const bench_options &o = s->ctx->opt;
    sample row;
    row.elapsed_s = double(hf_mono_us() - s->start_us) / 1e6;
    row.delivered = *s->delivered;
    row.churned = s->churned;
    if (o.pid) {
        row.anon_kib = bench_status_kib(o.pid, "RssAnon");
        row.file_kib = bench_status_kib(o.pid, "RssFile");
        row.fds = bench_open_fds(o.pid);
        row.cpu_us = bench_cpu_us(o.pid);
    }
    if (!o.metrics.empty()) {
        row.store_used = scrape(o.metrics, "handoff_store_used_bytes");
        row.store_full = scrape(o.metrics, "handoff_messages_rejected_total{reason=\"store_full\"}");
    }
    struct stat st;
    if (!o.store_file.empty() && stat(o.store_file.c_str(), &st) == 0)
        row.store_file = double(st.st_size);
    if (s->samples.empty())
        printf("%8s %12s %10s %8s %10s %10s %6s %14s %14s %10s %8s\n", "seconds", "delivered", "msgs/s", "cpu_us",
               "anon_kib", "file_kib", "fds", "store_used", "store_file", "store_full", "churned");
    const sample *prev = s->samples.empty() ? nullptr : &s->samples.back();
    double span = row.elapsed_s - (prev ? prev->elapsed_s : 0);
    uint64_t delivered = row.delivered - (prev ? prev->delivered : 0);
    double rate = span > 0 ? double(delivered) / span : 0;
    // The daemon's CPU per message in this row's span (churn included):
    // whether it gets slower, apart from the machine's own drift.
    double cpu_per_msg = prev && delivered ? double(row.cpu_us - prev->cpu_us) / double(delivered) : 0;
    printf("%8.0f %12lu %10.0f %8.2f %10lu %10lu %6lu %14.0f %14.0f %10.0f %8lu\n", row.elapsed_s, row.delivered, rate,
           cpu_per_msg, row.anon_kib, row.file_kib, row.fds, row.store_used, row.store_file, row.store_full,
           row.churned);
    fflush(stdout);
    s->samples.push_back(row);
}

void on_sample(evutil_socket_t, short, void *arg)
{
    take_sample(static_cast<bench_soak *>(arg));
}

// ---- churn: devices that connect, say HELLO and leave ----

void leave(evutil_socket_t, short, void *arg)
{
    auto *slot = static_cast<churn_slot *>(arg);
    bench_device_close(&slot->dev);
    slot->busy = false;
    slot->soak->churned++;
}

// Inside the link's own callback: the close waits for the next pass.
void churn_ready(bench_device *d)
{
    event_active(static_cast<churn_slot *>(d->owner)->leave, EV_TIMEOUT, 0);
}

// Closed by the server, or before WELCOME: a failure then.
void churn_closed(bench_device *d, bool was_ready, const char *)
{
    auto *slot = static_cast<churn_slot *>(d->owner);
    if (!was_ready) {
        slot->soak->churn_failed++;
        slot->busy = false;
    }
}

void ignore_deliver(bench_device *, const hf_msg *) {}
void ignore_send_ack(bench_device *, const hf_msg *) {}

const bench_device_events churn_events = {churn_ready, ignore_deliver, ignore_send_ack, churn_closed};

void on_churn(evutil_socket_t, short, void *arg)
{
    auto *s = static_cast<bench_soak *>(arg);
    uint64_t now = hf_mono_us();
    s->churn_credit =
        std::min(s->churn_credit + s->ctx->opt.churn * double(now - s->last_churn_us) / 1e6, double(churn_devices));
    s->last_churn_us = now;
    for (auto &slot : s->slots) {
        if (s->churn_credit < 1)
            break;
        if (slot->busy)
            continue;
        s->churn_credit -= 1;
        slot->busy = bench_device_connect(&slot->dev, 0);
    }
}

event *every(bench_soak *s, double seconds, event_callback_fn fn)
{
    event *ev = event_new(s->ctx->base, -1, EV_PERSIST, fn, s);
    timeval tv = hf_timeval_s(seconds);
    event_add(ev, &tv);
    return ev;
}

// Flat: the last row within 10% (and a little slack) of the first.
bool flat(double first, double last, double slack)
{
    return first < 0 || last <= first * 1.1 + slack;
}

void report_pair(bench_report *r, const char *name, double first, double last, const char *unit)
{
    bench_report_number(r, (std::string(name) + "_first").c_str(), first, unit);
    bench_report_number(r, (std::string(name) + "_last").c_str(), last, unit);
}

} // namespace

bench_soak *bench_soak_start(bench_ctx *ctx, const uint64_t *delivered)
{
    auto *s = new bench_soak;
    s->ctx = ctx;
    s->delivered = delivered;
    s->start_us = s->last_churn_us = hf_mono_us();
    s->sampler = every(s, ctx->opt.sample_s, on_sample);
    if (ctx->opt.churn > 0) {
        for (size_t i = 0; i < churn_devices; i++) {
            auto slot = std::make_unique<churn_slot>();
            slot->soak = s;
            slot->dev.ctx = ctx;
            slot->dev.events = &churn_events;
            slot->dev.owner = slot.get();
            slot->dev.account = bench_account(ctx, ctx->run_id + "-churn");
            slot->dev.device = "c" + std::to_string(i);
            slot->leave = event_new(ctx->base, -1, 0, leave, slot.get());
            s->slots.push_back(std::move(slot));
        }
        s->churner = every(s, 0.01, on_churn);
    }
    return s;
}

int bench_soak_finish(bench_soak *s, bench_report *r)
{
    event_free(s->sampler);
    if (s->churner)
        event_free(s->churner);
    take_sample(s);
    for (auto &slot : s->slots) {
        bench_device_close(&slot->dev);
        event_free(slot->leave);
    }
    const sample &first = s->samples.front(), &last = s->samples.back();
    bool is_flat = flat(double(first.anon_kib), double(last.anon_kib), 4096) &&
                   flat(double(first.file_kib), double(last.file_kib), 4096) &&
                   flat(double(first.fds), double(last.fds), 16) && flat(first.store_used, last.store_used, 1 << 20) &&
                   flat(first.store_file, last.store_file, 4 << 20);
    bench_report_number(r, "samples", double(s->samples.size()), "");
    bench_report_number(r, "churn_connects", double(s->churned), "connect, HELLO, close");
    bench_report_number(r, "churn_failed", double(s->churn_failed), "");
    report_pair(r, "anon_kib", double(first.anon_kib), double(last.anon_kib), "KiB");
    report_pair(r, "file_kib", double(first.file_kib), double(last.file_kib), "KiB");
    report_pair(r, "fds", double(first.fds), double(last.fds), "");
    report_pair(r, "store_used", first.store_used, last.store_used, "bytes (/metrics)");
    report_pair(r, "store_file", first.store_file, last.store_file, "bytes on disk");
    bench_report_number(r, "store_full", last.store_full, "SENDs refused");
    bench_report_text(r, "flat", is_flat ? "yes" : "no");
    // Growth is reported, not judged here: a short run is mostly warm-up.
    // What fails the run is what must never happen at any length.
    int rc = last.store_full <= 0 && s->churn_failed == 0 ? 0 : 1;
    delete s;
    return rc;
}
