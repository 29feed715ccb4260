// Readiness, as load balancers and orchestrators mean it: whether devices
// and API calls should be sent here now. Liveness is only that the process
// answers. Not ready while draining, while the store does not answer a
// probe (its depth, asked every second) within a second or answers with an
// error, while the store says it cannot acknowledge writes (hf_store_ops
// .health: a Redis Cluster short of replicas), and, for role server, while
// no allocator has accepted its registration.
#pragma once
#include <cstdint>
#include <string>

#include "core/common/event_ptr.h"
#include "core/server/registration.h"
#include "core/server/server.h"

struct hf_readiness {
    hf_server *server = nullptr;
    const hf_registrations *registrations = nullptr; // role server, else null
    hf_event_ptr probe_timer;
    bool probe_out = false;
    uint64_t probe_sent_ms = 0; // monotonic
    int last_status = HF_STORE_OK;
};

// Probes the store every second from now on.
void hf_readiness_start(hf_readiness *r, event_base *base);

// Why not ready, one reason a line; empty when ready.
std::string hf_readiness_reasons(const hf_readiness *r);

// The store's part alone: answering its probe and able to acknowledge.
bool hf_readiness_store_up(const hf_readiness *r);
