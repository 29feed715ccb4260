#include "client/events.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>

#include "proto/clock.h"

namespace hf_clientlib
{

void trace(hf_client *c, const char *fmt, ...)
{
    if (!c->cb.on_trace)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->cb.on_trace(c->user, line);
}

uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char *>(&v), sizeof v) != 1)
        v = hf_mono_us() ^ (uint64_t(getpid()) << 32);
    return v;
}

void set_state(hf_client *c, int state, const char *detail)
{
    if (c->state == state && state != HF_CLIENT_CONNECTING && state != HF_CLIENT_ALLOCATING)
        return;
    c->state = state;
    trace(c, "state %s: %s", hf_client_state_name(state), detail);
    if (c->cb.on_state)
        c->cb.on_state(c->user, state, detail);
}

void arm(event *ev, uint64_t ms)
{
    timeval tv = hf_timeval_ms(ms);
    event_add(ev, &tv);
}

void requests_lost(hf_client *c, const hf_link *l)
{
    if (l && l == c->link)
        c->presence_askers.clear();
    // Held for their senders' keys: the next server delivers them again.
    std::erase_if(c->held, [l](const held_message &h) { return h.link == l; });
    if (c->wake_cb && c->wake_link == l) {
        hf_client_wake_cb wake = c->wake_cb;
        c->wake_cb = nullptr;
        c->wake_link = nullptr;
        wake(c->user, HF_ERR_DISCONNECTED, "the connection ended before the server answered; ask again", nullptr, 0);
    }
    hf_client_subscription_cb cb = c->subscription_cb;
    if (!cb || c->subscribe_link != l)
        return;
    c->subscription_cb = nullptr;
    c->subscribe_id = 0;
    c->subscribe_link = nullptr;
    cb(c->user, nullptr, nullptr, nullptr, 0, 1, HF_ERR_DISCONNECTED,
       "the connection ended before the server answered; ask again");
}

} // namespace hf_clientlib
