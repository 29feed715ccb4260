// What an application on libhandoff sees: sends one message per SIZE (a
// payload of that many bytes), and prints every state change with the
// client's last error, what hf_client_send said, and each on_send_result.
// For 21_clients_say_why.py.
//   lib_probe ALLOCATOR CA TOKEN TO SIZE...
#include <event2/event.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "handoff/client.h"

namespace
{

struct probe {
    hf_client *client = nullptr;
    event_base *base = nullptr;
    int waiting = 0; // sends not answered yet
};

void on_state(void *user, int state, const char *detail)
{
    auto *p = static_cast<probe *>(user);
    const char *text = "";
    int code = hf_client_last_error(p->client, &text);
    printf("state %s code %d %s permanent %d: %s\n", hf_client_state_name(state), code, hf_client_error_name(code),
           hf_client_error_permanent(code), detail);
    fflush(stdout);
    if (state == HF_CLIENT_STOPPED)
        event_base_loopbreak(p->base);
}

void on_send_result(void *user, uint64_t id, int status, int code, const char *text)
{
    auto *p = static_cast<probe *>(user);
    printf("result %llu status %d code %s: %s\n", (unsigned long long)id, status, hf_err_name(code), text);
    fflush(stdout);
    if (--p->waiting == 0)
        event_base_loopbreak(p->base);
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: lib_probe ALLOCATOR CA TOKEN TO SIZE...\n");
        return 2;
    }
    probe p;
    p.base = event_base_new();
    const char *allocators[] = {argv[1]};
    hf_client_options opts{};
    opts.allocators = allocators;
    opts.allocator_count = 1;
    opts.ca_file = argv[2];
    opts.token = argv[3];
    opts.backoff_base_ms = 50;
    opts.backoff_cap_ms = 200;
    hf_client_callbacks cb{};
    cb.on_state = on_state;
    cb.on_send_result = on_send_result;
    p.client = hf_client_new(p.base, &opts, &cb, &p);
    if (!p.client)
        return 2;
    for (int i = 5; i < argc; i++) {
        std::string payload = "message " + std::to_string(i - 4) + " ";
        payload.resize(size_t(atol(argv[i])), '.');
        uint64_t id = 0;
        int rc = hf_client_send(p.client, argv[4], payload.data(), payload.size(), 0, nullptr, &id);
        printf("send %d bytes: %s\n", int(payload.size()), rc == 0 ? "queued" : hf_err_name(rc));
        if (rc == 0)
            p.waiting++;
    }
    fflush(stdout);
    hf_client_start(p.client);
    // Bounded: a run that hears nothing stops by itself.
    timeval limit = {15, 0};
    event_base_loopexit(p.base, &limit);
    if (p.waiting > 0)
        event_base_dispatch(p.base);
    hf_client_free(p.client);
    event_base_loop(p.base, EVLOOP_NONBLOCK);
    event_base_free(p.base);
    return 0;
}
