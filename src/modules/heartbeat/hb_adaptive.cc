// hb_adaptive: devices probe longer intervals within [min, max] (libhandoff
// does this; see docs/heartbeat.md); the server grants what is asked,
// clamped to the bounds, and sizes each connection's timeout from the
// interval it granted: factor x interval + grace.
#include <cinttypes>
#include <cstdio>

#include "handoff/module.h"

namespace
{

enum setting_index { min_ms, max_ms, initial_ms, factor_percent, grace_ms, setting_count };

const hf_setting_spec settings[setting_count] = {
    {"min", HF_SETTING_DURATION, "30s", 100, 3600000, "shortest interval granted"},
    {"max", HF_SETTING_DURATION, "10m", 100, 3600000, "longest interval granted"},
    {"initial", HF_SETTING_DURATION, "30s", 100, 3600000,
     "interval for a device that asks for none (clamped to min..max)"},
    {"factor_percent", HF_SETTING_INT, "150", 100, 1000, "timeout as a percentage of the granted interval"},
    {"grace", HF_SETTING_DURATION, "5s", 0, 600000, "added to every timeout for network delay"},
};

struct adaptive_policy {
    const hf_host_api *host;
    uint64_t min_ms, max_ms, initial_ms, factor_percent, grace_ms;
    uint64_t timeouts = 0;
};

uint64_t clamp(const adaptive_policy *p, uint64_t ms)
{
    return ms < p->min_ms ? p->min_ms : ms > p->max_ms ? p->max_ms : ms;
}

int policy_check(const hf_setting_value *values, char *err, size_t err_len)
{
    if (values[max_ms].number >= values[min_ms].number)
        return 0;
    snprintf(err, err_len, "heartbeat.max must not be below heartbeat.min");
    return -1;
}

int policy_open(const hf_host_api *host, const hf_setting_value *values, void **policy, char *err, size_t err_len)
{
    if (policy_check(values, err, err_len) != 0)
        return -1;
    auto *p = new adaptive_policy;
    p->host = host;
    p->min_ms = uint64_t(values[min_ms].number);
    p->max_ms = uint64_t(values[max_ms].number);
    p->initial_ms = clamp(p, uint64_t(values[initial_ms].number));
    p->factor_percent = uint64_t(values[factor_percent].number);
    p->grace_ms = uint64_t(values[grace_ms].number);
    *policy = p;
    return 0;
}

void policy_close(void *policy)
{
    delete static_cast<adaptive_policy *>(policy);
}

void policy_negotiate(void *policy, uint64_t requested_ms, uint64_t *granted_ms, uint64_t *timeout_ms)
{
    auto *p = static_cast<adaptive_policy *>(policy);
    *granted_ms = requested_ms ? clamp(p, requested_ms) : p->initial_ms;
    *timeout_ms = *granted_ms * p->factor_percent / 100 + p->grace_ms;
}

void policy_on_timeout(void *policy, uint64_t granted_ms)
{
    auto *p = static_cast<adaptive_policy *>(policy);
    p->timeouts++;
    p->host->log(p->host->host, HF_LOG_DEBUG, "hb_adaptive",
                 "a device went silent at %" PRIu64 " ms (%" PRIu64 " so far)", granted_ms, p->timeouts);
}

void policy_bounds(void *policy, uint64_t *min, uint64_t *max)
{
    auto *p = static_cast<adaptive_policy *>(policy);
    *min = p->min_ms;
    *max = p->max_ms;
}

const hf_heartbeat_ops adaptive_ops = {
    sizeof(hf_heartbeat_ops), policy_open,   policy_close, policy_negotiate, nullptr,
    policy_on_timeout,        policy_bounds, policy_check,
};

} // namespace

HF_MODULE_DECLARE(HF_MODULE_HEARTBEAT, "adaptive",
                  "devices probe longer intervals within bounds; timeout sized from the grant", settings, setting_count,
                  &adaptive_ops)
