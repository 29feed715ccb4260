#include "core/box/metrics_sample.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

static_assert(sizeof(hf_stats) % sizeof(uint64_t) == 0, "hf_stats is added up as an array of counters");

void hf_api_count_add(hf_metrics_sample *s, const char *route, int status, uint64_t n)
{
    for (int i = 0; i < s->api_used; i++) {
        hf_api_count &c = s->api[i];
        if (c.status == status && strncmp(c.route, route, sizeof c.route) == 0) {
            c.n += n;
            return;
        }
    }
    if (s->api_used == hf_metrics_sample::api_count_max)
        return;
    hf_api_count &c = s->api[s->api_used++];
    snprintf(c.route, sizeof c.route, "%s", route);
    c.status = status;
    c.n = n;
}

void hf_stats_add(hf_stats *total, const hf_stats &part)
{
    auto *sum = reinterpret_cast<uint64_t *>(total);
    const auto *add = reinterpret_cast<const uint64_t *>(&part);
    for (size_t i = 0; i < sizeof(hf_stats) / sizeof(uint64_t); i++)
        sum[i] += add[i];
}

void hf_metrics_sample_add(hf_metrics_sample *total, const hf_metrics_sample &part, bool store_shared)
{
    hf_stats_add(&total->stats, part.stats);
    for (int i = 0; i < int(hf_limit::count); i++)
        total->limit_hits[i] += part.limit_hits[i];
    for (int i = 0; i < part.api_used; i++)
        hf_api_count_add(total, part.api[i].route, part.api[i].status, part.api[i].n);
    total->connections += part.connections;
    total->online_devices += part.online_devices;
    total->inflight += part.inflight;
    total->sends_waiting += part.sends_waiting;
    total->registered_servers = std::max(total->registered_servers, part.registered_servers);
    total->resident_bytes += part.resident_bytes;
    total->open_fds += part.open_fds;
    total->cpu_us += part.cpu_us;
    total->started_ms = total->started_ms && total->started_ms < part.started_ms ? total->started_ms : part.started_ms;
    total->store_up = std::min(total->store_up, part.store_up);
    total->registrations_accepted += part.registrations_accepted;
    total->draining = std::max(total->draining, part.draining);
    if (store_shared)
        return;
    // A store that has not said yet (-1) does not count.
    auto add_known = [](int64_t *to, int64_t value) {
        if (value >= 0)
            *to = *to < 0 ? value : *to + value;
    };
    add_known(&total->queue_depth, part.queue_depth);
    add_known(&total->store_used_bytes, part.store_used_bytes);
    total->store_capacity_bytes += part.store_capacity_bytes;
}
