#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"
#include "proto/clock.h"

namespace
{

// How long cli_finish_after_flush waits for its PONG.
const long flush_wait_s = 2;

void on_deadline(evutil_socket_t, short, void *arg)
{
    auto *run = static_cast<cli_run *>(arg);
    if (run->flushing) {
        cli_finish(run, run->flush_status);
        return;
    }
    // Without --verbose too: what kept it from getting through.
    const char *why = "";
    int code = hf_client_last_error(run->client, &why);
    fprintf(stderr, "handoff: timed out (state: %s)%s%s\n", hf_client_state_name(hf_client_get_state(run->client)),
            code ? "; last failure: " : "", code ? why : "");
    cli_finish(run, cli_timeout);
}

} // namespace

bool cli_parse_seconds(const char *text, double *out)
{
    char *end = nullptr;
    double v = strtod(text, &end);
    if (end == text || *end || !std::isfinite(v) || v <= 0)
        return false;
    *out = v;
    return true;
}

void cli_on_trace(void *user, const char *line)
{
    auto *run = static_cast<cli_run *>(user);
    if (run->common->verbose)
        fprintf(stderr, "handoff: %s\n", line);
}

bool cli_first_connected(void *user, int state, const char *detail, bool *asked)
{
    cli_on_state(user, state, detail);
    if (state != HF_CLIENT_CONNECTED || *asked)
        return false;
    *asked = true;
    return true;
}

void cli_on_state(void *user, int state, const char *detail)
{
    auto *run = static_cast<cli_run *>(user);
    if (state == HF_CLIENT_STOPPED && !run->done) {
        int code = hf_client_last_error(run->client, nullptr);
        const char *hint = code == HF_CLIENT_ERR_CERTIFICATE ? " (is --ca the CA that signed the relay's certificate?)"
                           : code == HF_CLIENT_ERR_NAME_MISMATCH
                               ? " (is --server-name the name on the relay's certificate?)"
                               : "";
        fprintf(stderr, "handoff: %s%s\n", detail, hint);
        cli_finish(run, cli_refused);
    }
}

bool cli_start(cli_run *run, hf_client_callbacks callbacks, double timeout_s)
{
    run->base = event_base_new();
    std::vector<const char *> allocators;
    for (const std::string &a : run->common->allocators)
        allocators.push_back(a.c_str());
    hf_client_options opts{};
    opts.allocators = allocators.data();
    opts.allocator_count = allocators.size();
    opts.ca_file = run->common->ca.empty() ? nullptr : run->common->ca.c_str();
    opts.token = run->common->token.c_str();
    opts.server_name = run->common->server_name.empty() ? nullptr : run->common->server_name.c_str();
    if (!callbacks.on_state)
        callbacks.on_state = cli_on_state;
    callbacks.on_pong = callbacks.on_pong ? callbacks.on_pong : cli_on_flushed;
    callbacks.on_trace = cli_on_trace;
    run->client = hf_client_new(run->base, &opts, &callbacks, run);
    if (!run->client) {
        fprintf(stderr, "handoff: cannot set up the client: check that --ca %s is a readable PEM file\n",
                opts.ca_file ? opts.ca_file : "(system default)");
        return false;
    }
    // With a key file, the client publishes the device's keys and opens
    // what comes encrypted to them.
    if (!run->common->keys_file.empty() && hf_client_use_keys(run->client, run->common->keys_file.c_str()) != 0) {
        const char *why;
        hf_client_last_error(run->client, &why);
        fprintf(stderr, "handoff: --keys: %s\n", why);
        return false;
    }
    if (timeout_s > 0) {
        run->deadline = evtimer_new(run->base, on_deadline, run);
        timeval tv = hf_timeval_s(timeout_s);
        evtimer_add(run->deadline, &tv);
    }
    hf_client_start(run->client);
    return true;
}

int cli_loop(cli_run *run)
{
    if (!run->done)
        event_base_dispatch(run->base);
    hf_client_free(run->client);
    if (run->deadline)
        event_free(run->deadline);
    // libevent frees a bufferevent in a deferred callback, and one still
    // queued when the loop stopped (a connection being set up when the
    // command timed out) would never run: one more pass runs them.
    event_base_loop(run->base, EVLOOP_NONBLOCK);
    event_base_free(run->base);
    return run->status;
}

void cli_on_flushed(void *user, uint64_t)
{
    auto *run = static_cast<cli_run *>(user);
    cli_finish(run, run->flush_status);
}

void cli_finish_after_flush(cli_run *run, int status)
{
    if (run->done || run->flushing)
        return;
    run->flushing = true;
    run->flush_status = status;
    if (hf_client_ping(run->client) != 0) {
        cli_finish(run, status);
        return;
    }
    // Re-use the deadline timer as the bound on the wait.
    if (!run->deadline)
        run->deadline = evtimer_new(run->base, on_deadline, run);
    timeval tv = {flush_wait_s, 0};
    evtimer_add(run->deadline, &tv);
}

void cli_finish(cli_run *run, int status)
{
    if (run->done)
        return;
    run->done = true;
    run->status = status;
    event_base_loopbreak(run->base);
}
