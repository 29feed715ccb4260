// The handoff command-line device, built on libhandoff. See handoff(1).
#pragma once
#include <event2/event.h>

#include <string>
#include <vector>

#include "handoff/client.h"

// Exit statuses, as handoff(1) lists them.
enum cli_exit { cli_ok = 0, cli_rejected = 1, cli_usage = 2, cli_timeout = 3, cli_refused = 4 };

struct cli_common {
    std::vector<std::string> allocators; // --allocator, or HANDOFF_ALLOCATOR (comma-separated)
    std::string ca;                      // --ca, or HANDOFF_CA
    std::string server_name;             // --server-name, or HANDOFF_SERVER_NAME
    std::string token;                   // --token, or HANDOFF_TOKEN
    std::string keys_file;               // --keys, or HANDOFF_KEYS: the device's key file (hf_client_use_keys)
    bool verbose = false;
};

// A running client for one command: its loop, options and exit status.
struct cli_run {
    cli_common *common;
    void *job = nullptr; // the command's own state
    event_base *base = nullptr;
    hf_client *client = nullptr;
    event *deadline = nullptr;
    int status = cli_ok;
    bool done = false;
    bool flushing = false; // cli_finish_after_flush is waiting for its PONG
    int flush_status = cli_ok;
};

// Parses the options every network command shares; leaves the rest in
// argv order for the command. Returns false after printing a usage error.
bool cli_parse_common(int *argc, char ***argv, cli_common *common);

// Creates the loop and client with the command's callbacks; arms a
// deadline of timeout_s seconds (0: none) that ends the run with
// cli_timeout. Returns false after printing why.
bool cli_start(cli_run *run, hf_client_callbacks callbacks, double timeout_s);
// Runs until cli_finish; returns the status.
int cli_loop(cli_run *run);
void cli_finish(cli_run *run, int status);
// Finishes once the server has processed everything sent so far (a PING
// answered proves it), so a last acknowledgement is not lost; at most a
// couple of seconds.
void cli_finish_after_flush(cli_run *run, int status);

// The command's state behind a callback's user pointer.
template <typename Job>
Job *cli_job(void *user)
{
    return static_cast<Job *>(static_cast<cli_run *>(user)->job);
}

// Shared on_state: prints refusals, and every change with --verbose.
void cli_on_state(void *user, int state, const char *detail);
void cli_on_trace(void *user, const char *line);
// cli_on_state, then whether this is the first time the client is
// connected (*asked records it): a command's one request goes then (the
// client asks again itself after a reconnect, where it does).
bool cli_first_connected(void *user, int state, const char *detail, bool *asked);
void cli_on_flushed(void *user, uint64_t rtt_us);

// Parses a number of seconds ("2.5"); false if not a positive number.
bool cli_parse_seconds(const char *text, double *out);

int cli_token(int argc, char **argv);
int cli_send(int argc, char **argv, cli_common *common);
int cli_listen(int argc, char **argv, cli_common *common);
int cli_ping(int argc, char **argv, cli_common *common);
// subscribe and unsubscribe (argv[0] says which).
int cli_subscribe(int argc, char **argv, cli_common *common);
// fingerprint, and devices [verify DEVICE FINGERPRINT].
int cli_fingerprint(int argc, char **argv, cli_common *common);
int cli_devices(int argc, char **argv, cli_common *common);
// wake [ROUTE_JSON | --drop PROVIDER]: this device's wake routes.
int cli_wake(int argc, char **argv, cli_common *common);
