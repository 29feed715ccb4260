#include "core/shell/readiness.h"

#include "core/common/timeouts.h"
#include "proto/clock.h"

namespace
{

const uint64_t probe_interval_ms = 1000, probe_answer_max_ms = 1000;

void probe_answered(void *arg, int status, uint64_t)
{
    auto *r = static_cast<hf_readiness *>(arg);
    r->probe_out = false;
    r->last_status = status;
}

void on_probe_timer(evutil_socket_t, short, void *arg)
{
    auto *r = static_cast<hf_readiness *>(arg);
    const hf_store &store = r->server->store;
    if (r->probe_out || !store.ops || !store.has(&hf_store_ops::depth))
        return; // the one out says it all when it comes
    r->probe_out = true;
    r->probe_sent_ms = hf_mono_ms();
    store(&hf_store_ops::depth, probe_answered, r);
}

} // namespace

void hf_readiness_start(hf_readiness *r, event_base *base)
{
    r->probe_timer.reset(event_new(base, -1, EV_PERSIST, on_probe_timer, r));
    timeval every = hf_timeval_ms(probe_interval_ms);
    event_add(r->probe_timer.get(), &every);
    on_probe_timer(-1, 0, r);
}

// The store's reasons, one a line.
std::string store_reasons(const hf_readiness *r)
{
    std::string reasons;
    const hf_server *srv = r->server;
    if (!srv->store.ops)
        return reasons;
    uint64_t waiting = r->probe_out ? hf_mono_ms() - r->probe_sent_ms : 0;
    if (waiting > probe_answer_max_ms)
        reasons += "the store has not answered for " + std::to_string(waiting) + " ms\n";
    else if (r->last_status != HF_STORE_OK)
        reasons += "the store answered with an error (status " + std::to_string(r->last_status) + ")\n";
    char why[256] = "";
    if (srv->store.has(&hf_store_ops::health) && srv->store(&hf_store_ops::health, why, sizeof why) != 0)
        reasons += std::string("the store cannot acknowledge writes: ") + why + "\n";
    return reasons;
}

bool hf_readiness_store_up(const hf_readiness *r)
{
    return store_reasons(r).empty();
}

std::string hf_readiness_reasons(const hf_readiness *r)
{
    std::string reasons = r->server->stopping ? "draining\n" : "";
    reasons += store_reasons(r);
    std::string refused;
    if (r->registrations && hf_registration_accepted(r->registrations, &refused) == 0)
        reasons += "no allocator has accepted this server's registration (" + refused + ")\n";
    return reasons;
}
