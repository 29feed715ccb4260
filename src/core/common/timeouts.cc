#include "core/common/timeouts.h"

#include "proto/clock.h"

const timeval *hf_timeout(hf_timeouts *t, uint64_t ms)
{
    auto it = t->by_ms.find(ms);
    if (it != t->by_ms.end())
        return it->second;
    timeval tv = hf_timeval_ms(ms);
    const timeval *common = event_base_init_common_timeout(t->base, &tv);
    if (!common)
        return nullptr; // never happens for a sane config; libevent then treats it as "no timeout"
    t->by_ms[ms] = common;
    return common;
}

void hf_timeout_arm(hf_timeouts *t, event *ev, uint64_t ms)
{
    event_add(ev, hf_timeout(t, ms));
}
