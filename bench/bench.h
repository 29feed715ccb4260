// handoff-bench: load scenarios against running handoffd processes. It
// speaks the protocol itself (src/proto, src/net/link) rather than through
// libhandoff, mints its own tokens from the token secret, and prints a
// table and one JSON object per run. See docs/benchmarks.md.
#pragma once
#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

struct event_base;

struct bench_options {
    std::string scenario;
    std::vector<std::string> servers; // device listeners; storm moves devices to the second
    std::vector<std::string> sources; // local addresses to spread connections over
    std::string ca, server_name, secret_file, key_id = "k1";
    std::string token_format = "hf1"; // hf1, jwt (HS256 under the secret), or es256 (--token-key's)
    std::string token_key;            // es256: a P-256 private key PEM; the relay lists its public half as --key-id
    std::string websocket;            // browser devices: the WebSocket path to upgrade to ("" for native TLS)
    std::string account;              // drain: the account to queue for or receive (default: a fresh one)
    std::string phase = "both";       // drain: queue, receive or both
    int worker = -1, workers = 0;     // --worker K/N: only accounts worker K of N workers holds
    uint64_t connections = 1000;
    uint64_t pairs = 1;
    uint64_t devices = 10;
    uint64_t size = 256;
    uint64_t count = 100000;
    uint64_t window = 1000;
    double rate = 0;            // msgs/s in all; 0: as fast as acknowledgements allow
    uint64_t concurrency = 256; // connections being set up at once
    uint32_t heartbeat_ms = 30000;
    double hold_s = 2;
    double timeout_s = 120;
    int pid = 0;                 // daemon to measure (RSS, CPU): the first --pid
    std::vector<int> pids;       // every --pid: daemons whose CPU time flows add up
    std::vector<int> store_pids; // --store-pid: the store's processes (Redis), CPU per message
    int kill = 0;                // storm: the daemon to kill -9
    // pairs for a time instead of a count, watched (bench/soak.h):
    double seconds = 0;     // 0: --count messages
    double sample_s = 60;   // a row this often
    double churn = 0;       // devices a second that connect, say HELLO and leave
    std::string metrics;    // the daemon's /metrics, host:port
    std::string store_file; // the store's file (LMDB's data.mdb)
};

struct bench_ctx {
    event_base *base = nullptr;
    SSL_CTX *tls = nullptr;
    bench_options opt;
    std::string secret;
    EVP_PKEY *token_key = nullptr; // --token-key, for es256 tokens
    std::string run_id;            // prefix of this run's account names
    size_t next_source = 0;
};

// The next source address, round robin; null when none were given.
const char *bench_next_source(bench_ctx *ctx);

// The name of an account this run uses: base, or with --worker K/N the
// first of base.1, base.2, ... that worker K holds (a box's workers refuse
// the accounts of the others with wrong_server).
std::string bench_account(const bench_ctx *ctx, const std::string &base);

// A signed token for account/device, valid for a day.
std::string bench_token(const bench_ctx *ctx, const std::string &account, const std::string &device);

// Checks --token-format and reads --token-key; false (said) if they do not go.
bool bench_token_setup(bench_ctx *ctx);

// Runs the event loop until done() is true or the timeout passes; false on
// timeout. Checks every 10 ms.
bool bench_run_until(bench_ctx *ctx, bool (*done)(void *), void *arg, double timeout_s);

// Scenarios: each prints its table and JSON; returns 0, or 1 if the run
// failed (timeout, lost messages, refused connections).
int bench_idle(bench_ctx *ctx);
int bench_pairs(bench_ctx *ctx);
int bench_fanout(bench_ctx *ctx);
int bench_drain(bench_ctx *ctx);
int bench_storm(bench_ctx *ctx);
