// The nemesis's devices: every device of a list, each a libhandoff
// client on one event loop, connecting through the allocators as an
// application does, and a history of what each application saw, one JSON
// object a line (test/nemesis/README.md says what each holds):
//   send      a device called hf_client_send (its payload names it)
//   send_ack  on_send_result: stored, delivered or rejected, with the code
//   deliver   on_message: what the application was shown, then acknowledged
//   state     a client connected, or stopped for good
//   end       at exit: how many sends were never answered, per device
// Each account's "pc" sends to its "phone" and, every fifth time, its
// "phone" sends to "*". Payloads are "<account>|<from>|<to>|<n>", n
// counting up per (sender, to): unique, and ordered per sender and target.
// Sending stops after --seconds, or once --stop-file exists; the program
// ends once every send is answered and nothing was delivered for --quiet
// seconds, or after --drain seconds more.
//   nemesis-workload --allocators A,B --ca FILE --devices FILE --history FILE
//                    [--seconds S] [--rate R] [--quiet S] [--drain S] [--stop-file PATH]
// --devices: lines "account device token".
#include <event2/event.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "handoff/client.h"

namespace
{

struct device;

struct workload {
    event_base *base = nullptr;
    FILE *history = nullptr;
    timespec started{};
    std::vector<device *> devices;
    std::map<std::string, std::map<std::string, device *>> accounts; // account -> name -> device
    double seconds = 60, rate = 200, quiet_s = 5, drain_s = 60;
    std::string stop_file; // sending stops once it exists
    size_t next_account = 0;
    uint64_t ticks = 0;
    bool sending = true;
    double last_delivery_s = 0, stopped_sending_s = 0;
};

struct device {
    workload *w = nullptr;
    std::string account, name, token;
    hf_client *client = nullptr;
    std::map<std::string, uint64_t> sent_to; // to -> last n
    uint64_t unanswered = 0;
};

double now_s(const workload *w)
{
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return double(t.tv_sec - w->started.tv_sec) + double(t.tv_nsec - w->started.tv_nsec) / 1e9;
}

// CLOCK_MONOTONIC in seconds: the history's clock, which the driver's
// lines share (Python's time.monotonic).
double mono_s()
{
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

// One history line: the time, the event and the device, then rest (JSON
// members, each ", \"key\": value"). Names and payloads hold no character
// JSON would escape (names are A-Z a-z 0-9 . _ - @; payloads add '|').
void record(const device *d, const char *event, const std::string &rest)
{
    fprintf(d->w->history, "{\"t\": %.3f, \"ev\": \"%s\", \"account\": \"%s\", \"device\": \"%s\"%s}\n", mono_s(),
            event, d->account.c_str(), d->name.c_str(), rest.c_str());
}

std::string quoted(const std::string &s)
{
    return "\"" + s + "\"";
}

void send_one(device *d, const std::string &to)
{
    uint64_t n = ++d->sent_to[to];
    std::string payload = d->account + "|" + d->name + "|" + to + "|" + std::to_string(n);
    uint64_t id = 0;
    int rc = hf_client_send(d->client, to.c_str(), payload.data(), payload.size(), 0, nullptr, &id);
    if (rc != 0) {
        record(d, "send_refused", ", \"payload\": " + quoted(payload) + ", \"rc\": " + std::to_string(rc));
        return;
    }
    d->unanswered++;
    record(d, "send",
           ", \"to\": " + quoted(to) + ", \"id\": " + std::to_string(id) + ", \"payload\": " + quoted(payload));
}

void on_state(void *user, int state, const char *detail)
{
    auto *d = static_cast<device *>(user);
    if (state != HF_CLIENT_CONNECTED && state != HF_CLIENT_STOPPED)
        return;
    const char *text = "";
    int code = hf_client_last_error(d->client, &text);
    record(d, "state",
           ", \"state\": " + quoted(hf_client_state_name(state)) + ", \"code\": " + quoted(hf_client_error_name(code)) +
               ", \"detail\": " + quoted(std::string(detail).substr(0, 80)));
}

void on_message(void *user, const hf_client_message *msg)
{
    auto *d = static_cast<device *>(user);
    std::string payload(reinterpret_cast<const char *>(msg->payload), msg->payload_len);
    record(d, "deliver",
           ", \"from\": " + quoted(msg->from) + ", \"id\": " + std::to_string(msg->id) +
               ", \"seq\": " + std::to_string(msg->seq) + ", \"payload\": " + quoted(payload));
    hf_client_ack(d->client, msg->seq);
    d->w->last_delivery_s = now_s(d->w);
}

void on_send_result(void *user, uint64_t id, int status, int code, const char *)
{
    auto *d = static_cast<device *>(user);
    d->unanswered--;
    const char *names[] = {"delivered", "stored", "rejected"};
    record(d, "send_ack",
           ", \"id\": " + std::to_string(id) + ", \"status\": " +
               quoted(status >= 0 && status <= 2 ? names[status] : "?") + ", \"code\": " + quoted(hf_err_name(code)));
}

uint64_t unanswered(const workload *w)
{
    uint64_t n = 0;
    for (const device *d : w->devices)
        n += d->unanswered;
    return n;
}

void finish(workload *w)
{
    for (device *d : w->devices)
        record(d, "end", ", \"unanswered\": " + std::to_string(d->unanswered));
    event_base_loopbreak(w->base);
}

// Each tick: one account's pc sends to its phone, and every fifth tick of
// that account its phone sends to "*".
void tick(evutil_socket_t, short, void *arg)
{
    auto *w = static_cast<workload *>(arg);
    double t = now_s(w);
    if (w->sending && (t >= w->seconds || (!w->stop_file.empty() && access(w->stop_file.c_str(), F_OK) == 0))) {
        w->sending = false;
        w->stopped_sending_s = t;
    }
    if (w->sending) {
        auto it = w->accounts.begin();
        std::advance(it, long(w->next_account++ % w->accounts.size()));
        auto &devices = it->second;
        if (devices.count("pc") && devices.count("phone"))
            send_one(devices["pc"], "phone");
        if (devices.count("phone") && w->ticks++ % (5 * w->accounts.size()) < w->accounts.size())
            send_one(devices["phone"], "*");
        return;
    }
    bool settled = unanswered(w) == 0 && t - w->last_delivery_s >= w->quiet_s;
    if (settled || t - w->stopped_sending_s >= w->drain_s)
        finish(w);
}

void flush_history(evutil_socket_t, short, void *arg)
{
    fflush(static_cast<workload *>(arg)->history);
}

std::vector<std::string> split(const std::string &s, char sep)
{
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string part; std::getline(ss, part, sep);)
        if (!part.empty())
            out.push_back(part);
    return out;
}

} // namespace

int main(int argc, char **argv)
{
    workload w;
    std::string allocators, ca, devices_file, history_file;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string opt = argv[i], value = argv[i + 1];
        if (opt == "--allocators")
            allocators = value;
        else if (opt == "--ca")
            ca = value;
        else if (opt == "--devices")
            devices_file = value;
        else if (opt == "--history")
            history_file = value;
        else if (opt == "--seconds")
            w.seconds = atof(value.c_str());
        else if (opt == "--rate")
            w.rate = atof(value.c_str());
        else if (opt == "--quiet")
            w.quiet_s = atof(value.c_str());
        else if (opt == "--drain")
            w.drain_s = atof(value.c_str());
        else if (opt == "--stop-file")
            w.stop_file = value;
        else
            return fprintf(stderr, "nemesis-workload: unknown option %s\n", opt.c_str()), 2;
    }
    std::vector<std::string> allocator_list = split(allocators, ',');
    std::vector<const char *> allocator_ptrs;
    for (const std::string &a : allocator_list)
        allocator_ptrs.push_back(a.c_str());
    std::ifstream in(devices_file);
    w.history = fopen(history_file.c_str(), "w");
    if (allocator_ptrs.empty() || !in || !w.history || w.rate <= 0)
        return fprintf(stderr, "nemesis-workload: need --allocators, --devices, --history and a rate above 0\n"), 2;
    w.base = event_base_new();
    clock_gettime(CLOCK_MONOTONIC, &w.started);
    hf_client_callbacks callbacks{on_state, on_message, on_send_result, nullptr, nullptr};
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> f = split(line, ' ');
        if (f.size() != 3)
            continue;
        auto *d = new device;
        d->w = &w;
        d->account = f[0];
        d->name = f[1];
        d->token = f[2];
        hf_client_options opts{};
        opts.allocators = allocator_ptrs.data();
        opts.allocator_count = allocator_ptrs.size();
        opts.ca_file = ca.c_str();
        opts.token = d->token.c_str();
        opts.backoff_base_ms = 200;
        opts.backoff_cap_ms = 2000;
        d->client = hf_client_new(w.base, &opts, &callbacks, d);
        if (!d->client)
            return fprintf(stderr, "nemesis-workload: cannot make a client for %s/%s\n", f[0].c_str(), f[1].c_str()), 1;
        w.devices.push_back(d);
        w.accounts[d->account][d->name] = d;
        hf_client_start(d->client);
    }
    if (w.accounts.empty())
        return fprintf(stderr, "nemesis-workload: no device in %s\n", devices_file.c_str()), 2;
    timeval every = {0, suseconds_t(1e6 / w.rate)}, second = {1, 0};
    event *ticker = event_new(w.base, -1, EV_PERSIST, tick, &w);
    event *flusher = event_new(w.base, -1, EV_PERSIST, flush_history, &w);
    event_add(ticker, &every);
    event_add(flusher, &second);
    event_base_dispatch(w.base);
    event_free(ticker);
    event_free(flusher);
    for (device *d : w.devices) {
        hf_client_free(d->client);
        delete d;
    }
    fclose(w.history);
    event_base_free(w.base);
    return 0;
}
