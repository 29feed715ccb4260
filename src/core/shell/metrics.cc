#include "core/shell/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>

#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/conn/http_guard.h"
#include "core/server/router.h"
#include "core/server/session.h"
#include "core/wake/wake_result.h"
#include "core/wake/wake_route.h"
#include "proto/clock.h"

namespace
{

// Reasons a SEND is rejected, exported even at zero so that dashboards
// and alerts see every series from the start.
const int reject_reasons[] = {HF_ERR_BAD_FIELD,    HF_ERR_BAD_TARGET, HF_ERR_NO_TARGET,         HF_ERR_FORBIDDEN,
                              HF_ERR_QUEUE_FULL,   HF_ERR_STORE_FULL, HF_ERR_STORE_UNAVAILABLE, HF_ERR_TTL_TOO_LONG,
                              HF_ERR_RATE_LIMITED, HF_ERR_INTERNAL,   HF_ERR_PAYLOAD_TOO_LARGE, HF_ERR_UNKNOWN_DEVICE,
                              HF_ERR_ACCOUNT_FULL};

// One sample on the page, with its labels ("" or worker="k").
struct view {
    std::string labels;
    const hf_metrics_sample *sample;
};
using views = std::vector<view>;

// A worker not heard from for this long is down in /metrics and /healthz
// (it publishes every publish_interval_ms).
const uint64_t publish_interval_ms = 1000, report_age_max_ms = 3000;

std::string joined(const std::string &a, const std::string &b)
{
    return a.empty() ? b : b.empty() ? a : a + "," + b;
}

void header(std::string *out, const std::string &name, const char *type, const std::string &help)
{
    *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void series(std::string *out, const std::string &name, const std::string &labels, uint64_t value)
{
    char number[32];
    snprintf(number, sizeof number, " %" PRIu64 "\n", value);
    *out += labels.empty() ? name : name + "{" + labels + "}";
    *out += number;
}

// One unlabelled family: each view's value.
void family(std::string *out, const std::string &name, const char *type, const std::string &help, const views &vs,
            uint64_t (*value)(const hf_metrics_sample &))
{
    header(out, name, type, help);
    for (const view &v : vs)
        series(out, name, v.labels, value(*v.sample));
}

// One series of a histogram whose header is already written.
void histogram_series(std::string *out, const std::string &name, const std::string &labels, const hf_histogram &h)
{
    char bound[64];
    for (size_t i = 0; i < hf_histogram::bucket_count; i++) {
        snprintf(bound, sizeof bound, "le=\"%g\"", double(hf_histogram::bounds_us[i]) / 1e6);
        series(out, name + "_bucket", joined(labels, bound), h.buckets[i]);
    }
    series(out, name + "_bucket", joined(labels, "le=\"+Inf\""), h.count);
    char sum[64];
    snprintf(sum, sizeof sum, " %.6f\n", double(h.sum_us) / 1e6);
    *out += (labels.empty() ? name + "_sum" : name + "_sum{" + labels + "}") + sum;
    series(out, name + "_count", labels, h.count);
}

// Every family of the samples in vs, named prefix + its name: "handoff_"
// for this process or the box, "handoff_worker_" for each worker's own.
// Without store_families, what the store says of itself is left out.
void render_samples(std::string *out, const std::string &prefix, const views &vs, bool store_families)
{
    const std::string per = prefix == "handoff_" ? "" : " One series per worker.";
    auto plain = [&](const char *name, const char *type, const char *help,
                     uint64_t (*value)(const hf_metrics_sample &)) {
        family(out, prefix + name, type, help + per, vs, value);
    };
    plain("connections", "gauge", "Open TLS connections of every kind.",
          [](const hf_metrics_sample &s) { return s.connections; });
    plain("online_devices", "gauge", "Devices connected to this server after HELLO.",
          [](const hf_metrics_sample &s) { return s.online_devices; });
    plain("deliveries_unacknowledged", "gauge", "DELIVERs sent and not yet acknowledged.",
          [](const hf_metrics_sample &s) { return s.inflight; });
    plain("sends_waiting", "gauge", "SENDs waiting for their targets' acknowledgement.",
          [](const hf_metrics_sample &s) { return s.sends_waiting; });
    plain("connections_accepted_total", "counter", "TCP connections accepted.",
          [](const hf_metrics_sample &s) { return s.stats.connections_accepted; });
    plain("tls_handshakes_total", "counter", "TLS handshakes completed.",
          [](const hf_metrics_sample &s) { return s.stats.tls_handshakes; });
    plain("tls_resumed_total", "counter", "TLS handshakes that resumed a session (no certificate).",
          [](const hf_metrics_sample &s) { return s.stats.tls_resumed; });
    plain("tls_detached_total", "counter",
          "TLS handshakes after which the connection left OpenSSL for the daemon's own TLS 1.3 record layer.",
          [](const hf_metrics_sample &s) { return s.stats.tls_detached; });
    plain("tls_handshake_failures_total", "counter", "TLS handshakes that failed or timed out.",
          [](const hf_metrics_sample &s) { return s.stats.tls_handshake_failures; });
    plain("hello_refused_total", "counter", "HELLOs refused (token, version, limits).",
          [](const hf_metrics_sample &s) { return s.stats.hello_refused; });
    plain("heartbeat_timeouts_total", "counter", "Connections dropped for silence.",
          [](const hf_metrics_sample &s) { return s.stats.heartbeat_timeouts; });
    plain("protocol_errors_total", "counter", "Malformed frames answered with ERROR.",
          [](const hf_metrics_sample &s) { return s.stats.protocol_errors; });
    plain("messages_received_total", "counter", "SENDs received.",
          [](const hf_metrics_sample &s) { return s.stats.messages_received; });
    plain("messages_stored_total", "counter", "Message copies accepted by the store.",
          [](const hf_metrics_sample &s) { return s.stats.messages_stored; });
    plain("messages_delivered_total", "counter", "DELIVERs acknowledged by their device.",
          [](const hf_metrics_sample &s) { return s.stats.messages_delivered; });
    plain("messages_expired_total", "counter", "Messages dropped by the expiry sweep.",
          [](const hf_metrics_sample &s) { return s.stats.messages_expired; });
    plain("queue_stops_total", "counter",
          "Device queues stopped at a stored message that does not decode (a newer format, or damage); nothing "
          "is deleted.",
          [](const hf_metrics_sample &s) { return s.stats.queue_stops; });
    plain("seq_mismatches_total", "counter",
          "Acknowledgements of a seq that the store had given another message than the one sent as it: the "
          "store's seqs forked (a Redis split brain, docs/faults.md).",
          [](const hf_metrics_sample &s) { return s.stats.seq_mismatches; });
    plain("wakeups_coalesced_total", "counter",
          "Messages stored for a sleeping device that was woken already (within wake.min_interval) or is being "
          "woken: no wake-up of their own.",
          [](const hf_metrics_sample &s) { return s.stats.wakeups_coalesced; });
    plain("messages_dead_lettered_total", "counter",
          "Messages moved to their device's dead-letter list: too large for max_frame, or refused by the device.",
          [](const hf_metrics_sample &s) { return s.stats.messages_dead_lettered; });

    std::string name = prefix + "messages_rejected_total";
    header(out, name, "counter", "SENDs answered rejected, by reason." + per);
    for (const view &v : vs)
        for (int code : reject_reasons)
            series(out, name, joined(v.labels, std::string("reason=\"") + hf_err_name(code) + "\""),
                   v.sample->stats.messages_rejected[code]);
    name = prefix + "pushes_total";
    header(out, name, "counter",
           "Web Push requests to push resources (docs/push.md), by outcome: accepted, cancelled, too_large, "
           "unauthorized, gone, rate_limited, not_found, bad_request, failed." +
               per);
    for (const view &v : vs)
        for (size_t i = 0; i < size_t(hf_push_outcome::count); i++)
            series(out, name,
                   joined(v.labels, std::string("outcome=\"") + hf_push_outcome_name(hf_push_outcome(i)) + "\""),
                   v.sample->stats.pushes[i]);
    name = prefix + "wakeups_total";
    header(out, name, "counter",
           "Wake-ups (docs/wake.md) by provider (webpush, fcm, apns) and outcome: sent, gone (the route was dropped), "
           "retry, failed, rate_limited (wake.rate; not sent)." +
               per);
    for (const view &v : vs)
        for (int p = 0; p < HF_WAKE_PROVIDER_COUNT; p++)
            for (int o = 0; o < HF_WAKE_OUTCOME_COUNT; o++)
                series(
                    out, name,
                    joined(v.labels,
                           std::string("provider=\"") + hf_wake_provider_name(hf_wake_provider(p)) + "\",outcome=\"" +
                               (o == HF_WAKE_RATE_LIMITED ? "rate_limited" : hf_wake_outcome_name(hf_wake_outcome(o))) +
                               "\""),
                    v.sample->stats.wakeups[p][o]);
    name = prefix + "limit_hits_total";
    header(out, name, "counter", "Times a limit was reached, by config key." + per);
    for (const view &v : vs)
        for (int i = 0; i < int(hf_limit::count); i++)
            series(out, name, joined(v.labels, std::string("limit=\"") + hf_limit_key(hf_limit(i)) + "\""),
                   v.sample->limit_hits[i]);
    name = prefix + "store_seconds";
    header(out, name, "histogram", "Time from a store request to its answer, by operation." + per);
    for (const view &v : vs) {
        histogram_series(out, name, joined(v.labels, "op=\"enqueue\""), v.sample->stats.store_enqueue_seconds);
        histogram_series(out, name, joined(v.labels, "op=\"fetch\""), v.sample->stats.store_fetch_seconds);
    }

    if (store_families) {
        // Each only once its store has said.
        auto known = [&](const char *name, const char *help, int64_t hf_metrics_sample::*field, int64_t least) {
            bool any = false;
            for (const view &v : vs)
                any = any || v.sample->*field >= least;
            if (!any)
                return;
            header(out, prefix + name, "gauge", help + per);
            for (const view &v : vs)
                if (v.sample->*field >= least)
                    series(out, prefix + name, v.labels, uint64_t(v.sample->*field));
        };
        known("queue_depth", "Messages in the store, every device together, not yet acknowledged.",
              &hf_metrics_sample::queue_depth, 0);
        known("store_used_bytes", "Bytes the store uses for all it keeps: queues, indexes and de-duplication records.",
              &hf_metrics_sample::store_used_bytes, 0);
        known("store_capacity_bytes",
              "The most the store may use (LMDB: store.map_size; Redis: maxmemory); past it, store_full.",
              &hf_metrics_sample::store_capacity_bytes, 1);
    }
    plain("allocator_answers_total", "counter", "ALLOC_REQs answered with addresses.",
          [](const hf_metrics_sample &s) { return s.stats.alloc_answers; });
    plain("allocator_home_away_total", "counter",
          "ALLOC_REQs answered no_server because the account's server was away (cluster.servers with stores of "
          "their own: its devices wait for it).",
          [](const hf_metrics_sample &s) { return s.stats.alloc_home_away; });
    plain("registrations_refused_total", "counter",
          "REGISTERs refused: a server not in cluster.servers, a wrong key, or a weight past cluster.max_weight.",
          [](const hf_metrics_sample &s) { return s.stats.registrations_refused; });
    plain("registered_servers", "gauge", "Servers registered with this allocator.",
          [](const hf_metrics_sample &s) { return s.registered_servers; });
    plain("draining", "gauge", "1 while the daemon drains after SIGTERM.",
          [](const hf_metrics_sample &s) { return s.draining; });
    plain("store_up", "gauge",
          "1 while the store answers readiness's probe and can acknowledge writes (see /readyz), else 0.",
          [](const hf_metrics_sample &s) { return s.store_up; });
    plain("registrations_accepted", "gauge",
          "Allocators that accepted this server's last REGISTER (role server; 0 elsewhere).",
          [](const hf_metrics_sample &s) { return s.registrations_accepted; });
    name = prefix + "api_requests_total";
    header(out, name, "counter", "HTTP API requests answered, by route and status." + per);
    for (const view &v : vs)
        for (int i = 0; i < v.sample->api_used; i++) {
            const hf_api_count &c = v.sample->api[i];
            series(
                out, name,
                joined(v.labels, std::string("route=\"") + c.route + "\",status=\"" + std::to_string(c.status) + "\""),
                c.n);
        }
}

void reply(evhttp_request *req, int code, const char *reason, const std::string &body, const char *type)
{
    evbuffer *buf = evbuffer_new();
    evbuffer_add(buf, body.data(), body.size());
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, code, reason, buf);
    evbuffer_free(buf);
}

void on_depth(void *arg, int status, uint64_t messages)
{
    if (status == HF_STORE_OK)
        static_cast<hf_metrics *>(arg)->queue_depth = int64_t(messages);
}

void on_usage(void *arg, int status, uint64_t used_bytes, uint64_t capacity_bytes)
{
    auto *d = static_cast<hf_metrics *>(arg);
    if (status != HF_STORE_OK)
        return;
    d->store_used_bytes = int64_t(used_bytes);
    d->store_capacity_bytes = int64_t(capacity_bytes);
}

bool bind_metrics(hf_metrics *d, const std::string &address, std::string *err)
{
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
        *err = "metrics.listen \"" + address + "\": expected host:port";
        return false;
    }
    std::string host = address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[')
        host = host.substr(1, host.size() - 2);
    int port = atoi(address.c_str() + colon + 1);
    d->listening = evhttp_bind_socket_with_handle(d->http.get(), host.c_str(), uint16_t(port));
    if (!d->listening) {
        *err = "cannot listen for metrics on " + address + " (port in use? set metrics.listen, or \"\" to turn off)";
        return false;
    }
    return true;
}

// Asks the store what it holds: a local store answers at once, a
// networked one later (the page then shows its previous answer).
void ask_store(hf_metrics *d)
{
    const hf_store &store = d->server->store;
    if (!store.ops)
        return;
    if (store.has(&hf_store_ops::depth))
        store(&hf_store_ops::depth, on_depth, d);
    if (store.has(&hf_store_ops::usage))
        store(&hf_store_ops::usage, on_usage, d);
}

// What the kernel says of this process.
void take_process(const hf_metrics *d, hf_metrics_sample *s)
{
    if (FILE *statm = fopen("/proc/self/statm", "r")) {
        unsigned long long size = 0, resident = 0;
        if (fscanf(statm, "%llu %llu", &size, &resident) == 2)
            s->resident_bytes = resident * uint64_t(sysconf(_SC_PAGESIZE));
        fclose(statm);
    }
    if (DIR *fds = opendir("/proc/self/fd")) {
        while (dirent *e = readdir(fds))
            s->open_fds += e->d_name[0] != '.';
        s->open_fds -= s->open_fds > 0; // the one opendir holds
        closedir(fds);
    }
    rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) == 0)
        s->cpu_us = uint64_t(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
                    uint64_t(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
    s->started_ms = d->started_ms;
}

// This process's numbers.
void take_sample(const hf_metrics *d, hf_metrics_sample *s)
{
    s->stats = *d->stats;
    for (int i = 0; i < int(hf_limit::count); i++)
        s->limit_hits[i] = d->conns->limits.hits[i];
    for (const auto &[route_status, n] : d->api->answered)
        hf_api_count_add(s, route_status.first.c_str(), route_status.second, n);
    s->connections = d->conns->open;
    s->online_devices = d->server->online.devices.size();
    for (const auto &entry : d->server->online.devices)
        s->inflight += hf_session_inflight(entry.second);
    s->sends_waiting = d->server->router ? hf_router_awaiting_ack(d->server->router) : 0;
    s->registered_servers = d->allocator->servers.size();
    s->draining = d->server->stopping ? 1 : 0;
    s->queue_depth = d->queue_depth;
    s->store_used_bytes = d->store_used_bytes;
    s->store_capacity_bytes = d->store_capacity_bytes;
    if (d->readiness) {
        snprintf(s->not_ready, sizeof s->not_ready, "%s", hf_readiness_reasons(d->readiness).c_str());
        s->store_up = hf_readiness_store_up(d->readiness) ? 1 : 0;
        std::string ignored;
        if (d->readiness->registrations)
            s->registrations_accepted = hf_registration_accepted(d->readiness->registrations, &ignored);
    }
    take_process(d, s);
}

void publish(hf_metrics *d)
{
    hf_metrics_sample own;
    take_sample(d, &own);
    hf_box_publish(d->box, int(d->cfg->worker_index), own);
}

void on_publish_timer(evutil_socket_t, short, void *arg)
{
    auto *d = static_cast<hf_metrics *>(arg);
    if (!d->cfg->worker_store_shared)
        ask_store(d); // its own store: what it holds is this worker's share
    publish(d);
}

// A restarted worker goes on from the counters it last published, so the
// box's sums never go back (less what it counted in its last second).
void resume(hf_metrics *d)
{
    hf_metrics_sample last;
    hf_worker_state state;
    hf_box_read(d->box, int(d->cfg->worker_index), &last, &state);
    hf_stats_add(d->stats, last.stats);
    for (int i = 0; i < int(hf_limit::count); i++)
        d->conns->limits.hits[i] += last.limit_hits[i];
    for (int i = 0; i < last.api_used; i++)
        d->api->answered[{last.api[i].route, int(last.api[i].status)}] += last.api[i].n;
}

bool worker_up(const hf_worker_state &w)
{
    return w.pid > 0 && w.report_age_ms <= report_age_max_ms;
}

// Every worker's sample and state; a worker that is not running holds no
// connections, whatever it said last.
void read_box(hf_metrics *d, std::vector<hf_metrics_sample> *samples, std::vector<hf_worker_state> *states)
{
    publish(d);
    int workers = hf_box_workers(d->box);
    samples->resize(size_t(workers));
    states->resize(size_t(workers));
    for (int k = 0; k < workers; k++) {
        hf_metrics_sample &s = (*samples)[size_t(k)];
        hf_box_read(d->box, k, &s, &(*states)[size_t(k)]);
        if ((*states)[size_t(k)].pid == 0)
            s.connections = s.online_devices = s.inflight = s.sends_waiting = s.draining = 0;
    }
}

// The box's sums; what a store all workers share says of itself is the
// scraping worker's answer.
void box_total(hf_metrics *d, const std::vector<hf_metrics_sample> &samples, hf_metrics_sample *total)
{
    bool shared = d->cfg->worker_store_shared;
    for (const hf_metrics_sample &s : samples)
        hf_metrics_sample_add(total, s, shared);
    if (shared) {
        const hf_metrics_sample &own = samples[size_t(d->cfg->worker_index)];
        total->queue_depth = own.queue_depth;
        total->store_used_bytes = own.store_used_bytes;
        total->store_capacity_bytes = own.store_capacity_bytes;
    }
}

// The box's page: the sums under the names one process uses, each worker's
// own under handoff_worker_*, and the workers' state.
// When ctx's certificate expires (unix s), or 0 if it has none.
int64_t certificate_expiry(SSL_CTX *ctx)
{
    X509 *cert = ctx ? SSL_CTX_get0_certificate(ctx) : nullptr;
    tm when{};
    if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &when) != 1)
        return 0;
    return int64_t(timegm(&when));
}

// What the standard process_* series and handoff_build_info say, for the
// process or the box (total), and on an allocator which servers are
// registered.
void render_process(const hf_metrics *d, const hf_metrics_sample &total, std::string *out)
{
    header(out, "handoff_build_info", "gauge", "1, with the version of handoffd and its role as labels.");
    series(out, "handoff_build_info",
           std::string("version=\"") + PACKAGE_VERSION + "\",role=\"" + hf_role_name(d->cfg->role) + "\"", 1);
    char line[128];
    if (int64_t not_after = certificate_expiry(d->conns->tls); not_after > 0) {
        header(out, "handoff_tls_certificate_expiry_timestamp_seconds", "gauge",
               "When the listeners' certificate (tls.certificate, as last loaded) expires, unix s.");
        series(out, "handoff_tls_certificate_expiry_timestamp_seconds", "", uint64_t(not_after));
    }
    header(out, "process_start_time_seconds", "gauge",
           "Start time of the process (the box: its first worker), unix s.");
    snprintf(line, sizeof line, "process_start_time_seconds %.3f\n", double(total.started_ms) / 1000);
    *out += line;
    header(out, "process_resident_memory_bytes", "gauge", "Resident memory (the box: every worker's).");
    series(out, "process_resident_memory_bytes", "", total.resident_bytes);
    header(out, "process_open_fds", "gauge", "Open file descriptors (the box: every worker's).");
    series(out, "process_open_fds", "", total.open_fds);
    header(out, "process_cpu_seconds_total", "counter", "User and system CPU time (the box: every worker's).");
    snprintf(line, sizeof line, "process_cpu_seconds_total %.6f\n", double(total.cpu_us) / 1e6);
    *out += line;
    if (d->cfg->role != hf_role::allocator)
        return;
    header(out, "handoff_server_registered", "gauge", "1 for each server registered with this allocator, by id.");
    for (const auto &entry : d->allocator->servers)
        series(out, "handoff_server_registered", "server=\"" + entry.first + "\"", 1);
}

std::string render_box(hf_metrics *d)
{
    std::vector<hf_metrics_sample> samples;
    std::vector<hf_worker_state> states;
    read_box(d, &samples, &states);
    hf_metrics_sample total;
    box_total(d, samples, &total);
    views workers;
    for (size_t k = 0; k < samples.size(); k++)
        workers.push_back({"worker=\"" + std::to_string(k) + "\"", &samples[k]});
    std::string out;
    out.reserve(8192 * (samples.size() + 1));
    render_samples(&out, "handoff_", {{"", &total}}, true);
    render_process(d, total, &out);
    render_samples(&out, "handoff_worker_", workers, !d->cfg->worker_store_shared);
    header(&out, "handoff_workers", "gauge", "Worker processes the box runs (workers).");
    series(&out, "handoff_workers", "", samples.size());
    header(&out, "handoff_worker_up", "gauge",
           "1 while the worker runs and reports; 0 while it is down or silent for 3 s.");
    for (size_t k = 0; k < states.size(); k++)
        series(&out, "handoff_worker_up", workers[k].labels, worker_up(states[k]) ? 1 : 0);
    header(&out, "handoff_worker_restarts_total", "counter", "Times the supervisor started the worker again.");
    for (size_t k = 0; k < states.size(); k++)
        series(&out, "handoff_worker_restarts_total", workers[k].labels, states[k].restarts);
    return out;
}

void on_metrics(evhttp_request *req, void *arg)
{
    auto *d = static_cast<hf_metrics *>(arg);
    ask_store(d);
    reply(req, 200, "OK", hf_metrics_render(d), "text/plain; version=0.0.4");
}

// Why not ready, one reason a line (empty: ready): this process's own
// (readiness.h), or in a box every worker's, and a worker that is down or
// silent (its accounts cannot connect until it is back).
std::string not_ready(hf_metrics *d)
{
    if (!d->box)
        return d->readiness ? hf_readiness_reasons(d->readiness) : d->server->stopping ? "draining\n" : "";
    std::vector<hf_metrics_sample> samples;
    std::vector<hf_worker_state> states;
    read_box(d, &samples, &states);
    // A draining box's workers exit one by one: that is the drain.
    for (const hf_metrics_sample &sample : samples)
        if (sample.draining)
            return "draining\n";
    std::string reasons;
    for (size_t k = 0; k < states.size(); k++) {
        std::string worker = "worker " + std::to_string(k);
        if (states[k].pid == 0) {
            reasons += worker + " is not running\n";
            continue;
        }
        if (!worker_up(states[k])) {
            reasons += worker + " (pid " + std::to_string(states[k].pid) + ") has not reported for " +
                       std::to_string(states[k].report_age_ms) + " ms\n";
            continue;
        }
        std::string said(samples[k].not_ready, strnlen(samples[k].not_ready, sizeof samples[k].not_ready));
        for (size_t at = 0, nl; at < said.size(); at = nl + 1) {
            nl = said.find('\n', at);
            if (nl == std::string::npos)
                nl = said.size();
            if (nl > at)
                reasons += worker + ": " + said.substr(at, nl - at) + "\n";
        }
    }
    return reasons;
}

// The text form, for /healthz: "ok", or the reasons.
void on_healthz(evhttp_request *req, void *arg)
{
    std::string reasons = not_ready(static_cast<hf_metrics *>(arg));
    if (reasons.empty())
        reply(req, 200, "OK", "ok\n", "text/plain");
    else
        reply(req, 503, reasons == "draining\n" ? "Draining" : "Not Ready", reasons, "text/plain");
}

// {"ready": true} or 503 {"ready": false, "reasons": [...]}.
void on_readyz(evhttp_request *req, void *arg)
{
    std::string reasons = not_ready(static_cast<hf_metrics *>(arg));
    json_t *body = json_pack("{s:b}", "ready", reasons.empty());
    if (!reasons.empty()) {
        json_t *list = json_array();
        for (size_t at = 0, nl; (nl = reasons.find('\n', at)) != std::string::npos; at = nl + 1)
            json_array_append_new(list, json_string(reasons.substr(at, nl - at).c_str()));
        json_object_set_new(body, "reasons", list);
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    reply(req, reasons.empty() ? 200 : 503, reasons.empty() ? "OK" : "Not Ready", std::string(text) + "\n",
          "application/json");
    free(text);
}

// The process answers: nothing more (a liveness probe restarts what fails it).
void on_livez(evhttp_request *req, void *)
{
    reply(req, 200, "OK", "ok\n", "text/plain");
}

} // namespace

void hf_metrics_totals(hf_metrics *d, hf_metrics_sample *total, int *workers_up)
{
    if (!d->box) {
        take_sample(d, total);
        return;
    }
    std::vector<hf_metrics_sample> samples;
    std::vector<hf_worker_state> states;
    read_box(d, &samples, &states);
    box_total(d, samples, total);
    for (const hf_worker_state &w : states)
        *workers_up += worker_up(w) ? 1 : 0;
}

void hf_metrics_stop_listening(hf_metrics *d)
{
    if (!d->listening)
        return;
    evhttp_del_accept_socket(d->http.get(), d->listening); // closes this process's copy of the socket
    d->listening = nullptr;
}

std::string hf_metrics_render(hf_metrics *d)
{
    if (d->box)
        return render_box(d);
    hf_metrics_sample own;
    take_sample(d, &own);
    std::string out;
    out.reserve(8192);
    render_samples(&out, "handoff_", {{"", &own}}, true);
    render_process(d, own, &out);
    return out;
}

namespace
{

// A scrape or probe is answered at once: a connection idle or slow for
// this long is closed.
const int scrape_timeout_s = 10;

} // namespace

bool hf_metrics_start(hf_metrics *d, event_base *base, std::string *err)
{
    if (d->box) {
        resume(d);
        publish(d);
        d->publish_timer.reset(event_new(base, -1, EV_PERSIST, on_publish_timer, d));
        timeval tv = hf_timeval_ms(publish_interval_ms);
        event_add(d->publish_timer.get(), &tv);
    }
    const std::string &address = d->cfg->metrics_listen;
    if (address.empty())
        return true;
    d->http = std::unique_ptr<evhttp, void (*)(evhttp *)>(evhttp_new(base), evhttp_free);
    if (!d->http) {
        *err = "cannot create the metrics listener: out of memory";
        return false;
    }
    if (d->inherited_fd >= 0) {
        d->listening = evhttp_accept_socket_with_handle(d->http.get(), d->inherited_fd);
        if (!d->listening) {
            *err = "cannot take the metrics socket the supervisor opened";
            return false;
        }
    } else if (!bind_metrics(d, address, err)) {
        return false;
    }
    // GET and HEAD only: no body is read.
    hf_http_guard_limits(d->http.get(), size_t(d->cfg->http_max_headers), 0, scrape_timeout_s);
    d->guard.max_connections = size_t(d->cfg->metrics_max_connections);
    d->guard.limits = &d->conns->limits;
    d->guard.limit = hf_limit::metrics_connections;
    evhttp_set_bevcb(d->http.get(), hf_http_guard_plain, &d->guard);
    evhttp_set_allowed_methods(d->http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_cb(d->http.get(), "/metrics", on_metrics, d);
    evhttp_set_cb(d->http.get(), "/healthz", on_healthz, d);
    evhttp_set_cb(d->http.get(), "/readyz", on_readyz, d);
    evhttp_set_cb(d->http.get(), "/livez", on_livez, d);
    return true;
}
