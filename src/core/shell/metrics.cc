#include "core/shell/metrics.h"

#include <event2/buffer.h>
#include <event2/http.h>

#include <cinttypes>
#include <cstddef>
#include <cstdio>

#include "core/server/router.h"
#include "core/server/session.h"

namespace
{

// Reasons a SEND is rejected, exported even at zero so that dashboards
// and alerts see every series from the start.
const int reject_reasons[] = {HF_ERR_BAD_FIELD,    HF_ERR_BAD_TARGET, HF_ERR_NO_TARGET,         HF_ERR_FORBIDDEN,
                              HF_ERR_QUEUE_FULL,   HF_ERR_STORE_FULL, HF_ERR_STORE_UNAVAILABLE, HF_ERR_TTL_TOO_LONG,
                              HF_ERR_RATE_LIMITED, HF_ERR_INTERNAL,   HF_ERR_PAYLOAD_TOO_LARGE, HF_ERR_UNKNOWN_DEVICE};

void header(std::string *out, const char *name, const char *type, const char *help)
{
    char line[512];
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    *out += line;
}

void metric(std::string *out, const char *name, const char *type, const char *help, uint64_t value)
{
    header(out, name, type, help);
    char line[256];
    snprintf(line, sizeof line, "%s %" PRIu64 "\n", name, value);
    *out += line;
}

void labelled(std::string *out, const char *name, const char *label, const char *value, uint64_t n)
{
    char line[256];
    snprintf(line, sizeof line, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, value, n);
    *out += line;
}

// One labelled series of a histogram whose header is already written.
void histogram_series(std::string *out, const char *name, const char *label, const char *value, const hf_histogram &h)
{
    char line[256];
    for (size_t i = 0; i < hf_histogram::bucket_count; i++) {
        snprintf(line, sizeof line, "%s_bucket{%s=\"%s\",le=\"%g\"} %" PRIu64 "\n", name, label, value,
                 double(hf_histogram::bounds_us[i]) / 1e6, h.buckets[i]);
        *out += line;
    }
    snprintf(line, sizeof line,
             "%s_bucket{%s=\"%s\",le=\"+Inf\"} %" PRIu64 "\n%s_sum{%s=\"%s\"} %.6f\n%s_count{%s=\"%s\"} %" PRIu64 "\n",
             name, label, value, h.count, name, label, value, double(h.sum_us) / 1e6, name, label, value, h.count);
    *out += line;
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

// Whether a module built against this header has the optional op, and
// set it: its ops table may end before it.
#define HF_STORE_HAS(store, op)                                                                                        \
    ((store).ops && (store).ops->size >= offsetof(hf_store_ops, op) + sizeof(store).ops->op && (store).ops->op)

void on_metrics(evhttp_request *req, void *arg)
{
    auto *d = static_cast<hf_metrics *>(arg);
    // Local stores answer at once, so the scrape shows the current depth; a
    // networked one answers later and the scrape shows the previous answer.
    const hf_store &store = d->server->store;
    if (HF_STORE_HAS(store, depth))
        store(&hf_store_ops::depth, on_depth, d);
    if (HF_STORE_HAS(store, usage))
        store(&hf_store_ops::usage, on_usage, d);
    reply(req, 200, "OK", hf_metrics_render(d), "text/plain; version=0.0.4");
}

void on_healthz(evhttp_request *req, void *arg)
{
    auto *d = static_cast<hf_metrics *>(arg);
    if (d->server->stopping)
        reply(req, 503, "Draining", "draining\n", "text/plain");
    else
        reply(req, 200, "OK", "ok\n", "text/plain");
}

} // namespace

std::string hf_metrics_render(hf_metrics *d)
{
    const hf_stats &st = *d->stats;
    std::string out;
    out.reserve(8192);
    metric(&out, "handoff_connections", "gauge", "Open TLS connections of every kind.", d->conns->open);
    metric(&out, "handoff_online_devices", "gauge", "Devices connected to this server after HELLO.",
           d->server->online.devices.size());
    uint64_t inflight = 0;
    for (const auto &entry : d->server->online.devices)
        inflight += hf_session_inflight(entry.second);
    metric(&out, "handoff_deliveries_unacknowledged", "gauge", "DELIVERs sent and not yet acknowledged.", inflight);
    metric(&out, "handoff_sends_waiting", "gauge", "SENDs waiting for their targets' acknowledgement.",
           d->server->router ? hf_router_awaiting_ack(d->server->router) : 0);
    metric(&out, "handoff_connections_accepted_total", "counter", "TCP connections accepted.", st.connections_accepted);
    metric(&out, "handoff_tls_handshakes_total", "counter", "TLS handshakes completed.", st.tls_handshakes);
    metric(&out, "handoff_tls_resumed_total", "counter", "TLS handshakes that resumed a session (no certificate).",
           st.tls_resumed);
    metric(&out, "handoff_tls_detached_total", "counter",
           "TLS handshakes after which the connection left OpenSSL for the daemon's own TLS 1.3 record layer.",
           st.tls_detached);
    metric(&out, "handoff_tls_handshake_failures_total", "counter", "TLS handshakes that failed or timed out.",
           st.tls_handshake_failures);
    metric(&out, "handoff_hello_refused_total", "counter", "HELLOs refused (token, version, limits).",
           st.hello_refused);
    metric(&out, "handoff_heartbeat_timeouts_total", "counter", "Connections dropped for silence.",
           st.heartbeat_timeouts);
    metric(&out, "handoff_protocol_errors_total", "counter", "Malformed frames answered with ERROR.",
           st.protocol_errors);
    metric(&out, "handoff_messages_received_total", "counter", "SENDs received.", st.messages_received);
    metric(&out, "handoff_messages_stored_total", "counter", "Message copies accepted by the store.",
           st.messages_stored);
    metric(&out, "handoff_messages_delivered_total", "counter", "DELIVERs acknowledged by their device.",
           st.messages_delivered);
    metric(&out, "handoff_messages_expired_total", "counter", "Messages dropped by the expiry sweep.",
           st.messages_expired);
    metric(&out, "handoff_messages_set_aside_total", "counter",
           "Messages acknowledged on their device's behalf: too large for max_frame, or delivery.max_attempts "
           "connections ended on them.",
           st.messages_set_aside);
    header(&out, "handoff_messages_rejected_total", "counter", "SENDs answered rejected, by reason.");
    for (int code : reject_reasons)
        labelled(&out, "handoff_messages_rejected_total", "reason", hf_err_name(code), st.messages_rejected[code]);
    header(&out, "handoff_limit_hits_total", "counter", "Times a limit was reached, by config key.");
    for (int i = 0; i < int(hf_limit::count); i++)
        labelled(&out, "handoff_limit_hits_total", "limit", hf_limit_key(hf_limit(i)), d->conns->limits.hits[i]);
    header(&out, "handoff_store_seconds", "histogram", "Time from a store request to its answer, by operation.");
    histogram_series(&out, "handoff_store_seconds", "op", "enqueue", st.store_enqueue_seconds);
    histogram_series(&out, "handoff_store_seconds", "op", "fetch", st.store_fetch_seconds);
    if (d->queue_depth >= 0)
        metric(&out, "handoff_queue_depth", "gauge",
               "Messages in the store, every device together, not yet acknowledged.", uint64_t(d->queue_depth));
    if (d->store_used_bytes >= 0)
        metric(&out, "handoff_store_used_bytes", "gauge",
               "Bytes the store uses for all it keeps: queues, indexes and de-duplication records.",
               uint64_t(d->store_used_bytes));
    if (d->store_capacity_bytes > 0)
        metric(&out, "handoff_store_capacity_bytes", "gauge",
               "The most the store may use (LMDB: store.map_size; Redis: maxmemory); past it, store_full.",
               uint64_t(d->store_capacity_bytes));
    metric(&out, "handoff_allocator_answers_total", "counter", "ALLOC_REQs answered with addresses.", st.alloc_answers);
    metric(&out, "handoff_registered_servers", "gauge", "Servers registered with this allocator.",
           d->allocator->servers.size());
    metric(&out, "handoff_draining", "gauge", "1 while the daemon drains after SIGTERM.", d->server->stopping ? 1 : 0);
    header(&out, "handoff_api_requests_total", "counter", "HTTP API requests answered, by route and status.");
    for (const auto &[route_status, n] : d->api->answered) {
        char line[256];
        snprintf(line, sizeof line, "handoff_api_requests_total{route=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                 route_status.first.c_str(), route_status.second, n);
        out += line;
    }
    return out;
}

bool hf_metrics_start(hf_metrics *d, event_base *base, std::string *err)
{
    const std::string &address = d->cfg->metrics_listen;
    if (address.empty())
        return true;
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
        *err = "metrics.listen \"" + address + "\": expected host:port";
        return false;
    }
    std::string host = address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[')
        host = host.substr(1, host.size() - 2);
    int port = atoi(address.c_str() + colon + 1);
    d->http = std::unique_ptr<evhttp, void (*)(evhttp *)>(evhttp_new(base), evhttp_free);
    if (!d->http || evhttp_bind_socket(d->http.get(), host.c_str(), uint16_t(port)) != 0) {
        *err = "cannot listen for metrics on " + address + " (port in use? set metrics.listen, or \"\" to turn off)";
        return false;
    }
    evhttp_set_allowed_methods(d->http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_cb(d->http.get(), "/metrics", on_metrics, d);
    evhttp_set_cb(d->http.get(), "/healthz", on_healthz, d);
    return true;
}
