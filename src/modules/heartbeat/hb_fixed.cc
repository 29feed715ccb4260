// hb_fixed: every device gets the configured interval; the server drops a
// connection silent for factor x interval + grace, as MQTT's keep-alive
// rule does with factor 1.5.
#include "handoff/module.h"

namespace
{

enum setting_index { interval_ms, factor_percent, grace_ms, setting_count };

const hf_setting_spec settings[setting_count] = {
    {"interval", HF_SETTING_DURATION, "30s", 1000, 3600000, "interval granted to every device"},
    {"factor_percent", HF_SETTING_INT, "150", 100, 1000,
     "timeout as a percentage of the interval (150 = 1.5 x interval)"},
    {"grace", HF_SETTING_DURATION, "5s", 0, 600000, "added to the timeout for network delay"},
};

struct fixed_policy {
    uint64_t interval_ms;
    uint64_t timeout_ms;
};

int policy_open(const hf_host_api *, const hf_setting_value *values, void **policy, char *, size_t)
{
    auto *p = new fixed_policy;
    p->interval_ms = uint64_t(values[interval_ms].number);
    p->timeout_ms = p->interval_ms * uint64_t(values[factor_percent].number) / 100 + uint64_t(values[grace_ms].number);
    *policy = p;
    return 0;
}

void policy_close(void *policy)
{
    delete static_cast<fixed_policy *>(policy);
}

void policy_negotiate(void *policy, uint64_t, uint64_t *granted_ms, uint64_t *timeout_ms)
{
    auto *p = static_cast<fixed_policy *>(policy);
    *granted_ms = p->interval_ms;
    *timeout_ms = p->timeout_ms;
}

const hf_heartbeat_ops fixed_ops = {
    sizeof(hf_heartbeat_ops), policy_open, policy_close, policy_negotiate, nullptr, nullptr, nullptr, nullptr};

} // namespace

HF_MODULE_DECLARE(HF_MODULE_HEARTBEAT, "fixed", "one configured interval for every device", settings, setting_count,
                  &fixed_ops)
