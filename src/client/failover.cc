#include "client/failover.h"

#include <algorithm>
#include <cstdio>

#include "client/events.h"
#include "proto/build.h"
#include "proto/clock.h"

namespace hf_clientlib
{

void drop_link(hf_client *c)
{
    requests_lost(c, c->link);
    hf_link_free(c->link);
    c->link = nullptr;
    c->role = link_role::none;
    event_del(c->step_timer);
    event_del(c->ping_timer);
    c->heartbeat_ping_id = 0;
    c->user_ping_id = 0;
}

void drop_old_link(hf_client *c)
{
    if (!c->old_link)
        return;
    requests_lost(c, c->old_link);
    hf_link_free(c->old_link);
    c->old_link = nullptr;
    c->old_deliveries.by_seq.clear();
}

bool open_link(hf_client *c, const std::string &address, link_role role)
{
    std::string err;
    c->link_address = address;
    c->role = role;
    hf_link_target target;
    target.address = address;
    target.server_name = c->server_name.c_str();
    target.session = &c->tls_session;
    c->link = hf_link_open(c->base, c->tls, &target, c->max_frame, c->link_callbacks, c, &err);
    if (!c->link) {
        trace(c, "%s: %s", address.c_str(), err.c_str());
        c->role = link_role::none;
        return false;
    }
    arm(c->step_timer, c->connect_timeout_ms);
    return true;
}

// Everything failed this round: wait, then ask the allocators again; or,
// if the round met a permanent failure (a certificate that does not
// verify), stop and say why: no retry would fix it.
void back_off(hf_client *c, const char *why)
{
    drop_link(c);
    drop_old_link(c);
    if (c->permanent_error) {
        c->last_error = c->permanent_error;
        c->last_error_text = c->permanent_error_text;
        set_state(c, HF_CLIENT_STOPPED, c->last_error_text.c_str());
        return;
    }
    uint64_t ceiling = c->backoff_base_ms;
    for (uint32_t i = 0; i < c->backoff_attempt && ceiling < c->backoff_cap_ms; i++)
        ceiling *= 2;
    if (ceiling > c->backoff_cap_ms)
        ceiling = c->backoff_cap_ms;
    // Full jitter: a fleet that lost one server does not come back at once;
    // but not sooner than a refusal asked (a server's connection limit).
    uint64_t delay = std::max(c->retry_floor_ms, random_u64() % (ceiling + 1));
    c->retry_floor_ms = 0;
    c->backoff_attempt++;
    char detail[600];
    snprintf(detail, sizeof detail, "%s (last: %s); asking the allocators again in %llu ms (attempt %u)", why,
             c->last_error_text.c_str(), (unsigned long long)delay, c->backoff_attempt);
    set_state(c, HF_CLIENT_BACKING_OFF, detail);
    c->allocators_tried = 0;
    arm(c->step_timer, delay);
}

void allocate(hf_client *c)
{
    drop_link(c);
    while (c->allocators_tried < c->allocators.size()) {
        const std::string &address = c->allocators[c->allocator_index];
        c->allocator_index = (c->allocator_index + 1) % c->allocators.size();
        c->allocators_tried++;
        std::string detail = "asking allocator " + address;
        set_state(c, HF_CLIENT_ALLOCATING, detail.c_str());
        if (open_link(c, address, link_role::allocator))
            return;
    }
    back_off(c, "no allocator answered");
}

void connect_next_server(hf_client *c)
{
    drop_link(c);
    while (c->address_index < c->addresses.size()) {
        const std::string &address = c->addresses[c->address_index];
        char detail[300];
        snprintf(detail, sizeof detail, "trying server %s (%zu of %zu)", address.c_str(), c->address_index + 1,
                 c->addresses.size());
        c->address_index++;
        set_state(c, HF_CLIENT_CONNECTING, detail);
        if (open_link(c, address, link_role::server))
            return;
    }
    back_off(c, "no server on the list accepted the connection");
}

// A link failed: an allocator's -> the next allocator; a server's -> the
// next server on the list (claims 4-6 of the design).
void link_failed(hf_client *c, int code, const char *why)
{
    c->last_error = code;
    c->last_error_text =
        std::string(c->role == link_role::allocator ? "allocator " : "server ") + c->link_address + ": " + why;
    if (hf_client_error_permanent(code)) {
        c->permanent_error = code;
        c->permanent_error_text = c->last_error_text;
    }
    trace(c, "%s %s failed: %s", c->role == link_role::allocator ? "allocator" : "server", c->link_address.c_str(),
          why);
    if (c->role == link_role::allocator) {
        allocate(c);
    } else if (code == HF_ERR_WRONG_SERVER && !c->addresses_fresh) {
        // The box's workers changed since the list was given: the rest of
        // it is as old, so ask the allocators now rather than after a backoff.
        c->allocators_tried = 0;
        allocate(c);
    } else {
        connect_next_server(c);
    }
}

int error_of(hf_link_failure failure)
{
    switch (failure) {
    case hf_link_failure::closed:
        return HF_CLIENT_ERR_CLOSED;
    case hf_link_failure::refused:
        return HF_CLIENT_ERR_REFUSED;
    case hf_link_failure::unreachable:
        return HF_CLIENT_ERR_UNREACHABLE;
    case hf_link_failure::timed_out:
        return HF_CLIENT_ERR_TIMED_OUT;
    case hf_link_failure::reset:
        return HF_CLIENT_ERR_RESET;
    case hf_link_failure::certificate:
        return HF_CLIENT_ERR_CERTIFICATE;
    case hf_link_failure::name_mismatch:
        return HF_CLIENT_ERR_NAME_MISMATCH;
    case hf_link_failure::tls:
        return HF_CLIENT_ERR_TLS;
    case hf_link_failure::bad_frame:
        return HF_CLIENT_ERR_BAD_FRAME;
    case hf_link_failure::other:
        break;
    }
    return HF_CLIENT_ERR_OTHER;
}

void send_frame(hf_client *c, const hf_msg *m)
{
    if (c->link && !hf_link_send(c->link, m))
        trace(c, "write to %s failed", c->link_address.c_str());
}

void send_presence_req(hf_client *c, bool for_application)
{
    c->presence_askers.push_back(for_application);
    hf_msg m = hf_msg_presence_req(c->next_ping_id++, c->presence_follow);
    send_frame(c, &m);
}

void on_step_timer(evutil_socket_t, short, void *arg)
{
    auto *c = static_cast<hf_client *>(arg);
    switch (c->state) {
    case HF_CLIENT_BACKING_OFF:
        allocate(c);
        break;
    case HF_CLIENT_ALLOCATING:
    case HF_CLIENT_CONNECTING:
        link_failed(c, HF_CLIENT_ERR_TIMED_OUT,
                    c->state == HF_CLIENT_ALLOCATING ? "no answer in time" : "no WELCOME in time");
        break;
    case HF_CLIENT_CONNECTED:
        if (c->probing) {
            uint64_t was = c->probe.current_ms;
            uint64_t now_ms = hf_hb_probe_failure(&c->probe, hf_mono_ms());
            trace(c, "adaptive heartbeat: no PONG at %llu ms; using %llu ms, pinned for %llu s",
                  (unsigned long long)was, (unsigned long long)now_ms, (unsigned long long)(c->probe.pin_ms / 1000));
        }
        link_failed(c, HF_CLIENT_ERR_TIMED_OUT, "ping unanswered within the ping timeout");
        break;
    default:
        break;
    }
}

} // namespace hf_clientlib
