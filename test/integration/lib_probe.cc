// What an application on libhandoff sees: sends one message per SIZE (a
// payload of that many bytes), and prints every state change with the
// client's last error, what hf_client_send said, and each on_send_result.
// For 21_clients_say_why.py. With --refuse, it takes COUNT messages
// instead, refusing (hf_client_refuse) the one whose payload is PAYLOAD and
// acknowledging the rest, and prints each.
//   lib_probe ALLOCATOR CA TOKEN TO SIZE...
//   lib_probe ALLOCATOR CA TOKEN --refuse PAYLOAD COUNT
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
    int waiting = 0;     // sends not answered yet, or messages to take
    std::string refused; // --refuse: the payload refused
};

void on_message(void *user, const hf_client_message *msg)
{
    auto *p = static_cast<probe *>(user);
    std::string payload(reinterpret_cast<const char *>(msg->payload), msg->payload_len);
    bool refuse = payload == p->refused;
    int rc = refuse ? hf_client_refuse(p->client, msg->seq, HF_ERR_BAD_FIELD, "the probe cannot take it")
                    : hf_client_ack(p->client, msg->seq);
    printf("message %s %s (%d)\n", payload.c_str(), refuse ? "refused" : "acknowledged", rc);
    fflush(stdout);
    if (--p->waiting == 0) {
        timeval flush = {0, 200000}; // for the last answer to go out
        event_base_loopexit(p->base, &flush);
    }
}

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
        fprintf(stderr, "usage: lib_probe ALLOCATOR CA TOKEN TO SIZE...\n"
                        "       lib_probe ALLOCATOR CA TOKEN --refuse PAYLOAD COUNT\n");
        return 2;
    }
    bool refusing = std::string(argv[4]) == "--refuse" && argc == 7;
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
    cb.on_message = on_message;
    p.client = hf_client_new(p.base, &opts, &cb, &p);
    if (!p.client)
        return 2;
    if (refusing) {
        p.refused = argv[5];
        p.waiting = atoi(argv[6]);
    }
    for (int i = 5; i < argc && !refusing; i++) {
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
