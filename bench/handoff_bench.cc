// handoff-bench: see bench/bench.h and docs/benchmarks.md.
#include <event2/event.h>
#include <getopt.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "bench/bench.h"
#include "net/link.h"
#include "proto/units.h"

namespace
{

void usage(FILE *out)
{
    fprintf(out, "usage: handoff-bench SCENARIO --server HOST:PORT --ca FILE --secret-file FILE [options]\n"
                 "scenarios:\n"
                 "  idle   --connections N [--hold S] [--pid PID]    hold N devices; connect rate, daemon KiB each\n"
                 "  pairs  --pairs K --size B --count M --window W [--rate R]   acknowledged sender->receiver\n"
                 "         (given two --server, senders on the first, receivers on the second)\n"
                 "  pairs  ... --seconds S [--sample S] [--churn N] [--metrics HOST:PORT] [--store-file F]\n"
                 "         a soak: pairs for S seconds, a row of the daemon's memory, files and store size each\n"
                 "         --sample seconds (60), N devices a second connecting and leaving beside them\n"
                 "  fanout --devices D --count M --window W          one sender to \"*\"\n"
                 "  drain  --count M --window W [--phase queue|receive|both] [--account A]\n"
                 "  storm  --connections N --kill PID --server A --server B   kill A, time the move to B\n"
                 "options:\n"
                 "  --server HOST:PORT    device listener (storm and cross-server pairs: give two)\n"
                 "  --ca FILE             CA of the servers' certificates\n"
                 "  --server-name NAME    name the certificates carry (default: the host)\n"
                 "  --secret-file FILE    token secret; --key-id K (default k1)\n"
                 "  --token-format F      hf1 (default), jwt (HS256 under the secret) or es256 (--token-key\n"
                 "                        FILE: a P-256 private key whose public half the relay lists as K)\n"
                 "  --sources A,B,...     local addresses to connect from (127.0.0.x), when ports run short\n"
                 "  --websocket PATH      devices as browsers: --server is a WebSocket listener, upgraded\n"
                 "                        to at PATH (/handoff), frames in binary messages\n"
                 "  --concurrency N       connections being set up at once (256)\n"
                 "  --heartbeat MS        interval asked for in HELLO (30000)\n"
                 "  --pid PID             daemon whose RSS and CPU time to read; pairs and fanout add up\n"
                 "                        the CPU time of every --pid given (a flow across servers)\n"
                 "  --store-pid PID       a store process (Redis) whose CPU per message pairs reports;\n"
                 "                        may be given once per process (a cluster)\n"
                 "  --timeout S           give up after S seconds (120)\n"
                 "  --worker K/N          a box of N workers (--server: worker K's port): accounts worker K holds\n");
}

bool parse_number(const char *name, const char *text, double *out)
{
    char *end;
    *out = strtod(text, &end);
    if (*end || *out < 0) {
        fprintf(stderr, "handoff-bench: %s wants a number, got \"%s\"\n", name, text);
        return false;
    }
    return true;
}

bool read_secret(const std::string &path, std::string *secret)
{
    FILE *f = fopen(path.c_str(), "r");
    if (!f) {
        fprintf(stderr, "handoff-bench: cannot read --secret-file %s: %s\n", path.c_str(), strerror(errno));
        return false;
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    secret->assign(buf, n);
    while (!secret->empty() && (secret->back() == '\n' || secret->back() == '\r'))
        secret->pop_back();
    return !secret->empty();
}

int parse(int argc, char **argv, bench_options *o)
{
    enum {
        opt_server = 256,
        opt_ca,
        opt_server_name,
        opt_secret,
        opt_key_id,
        opt_token_format,
        opt_token_key,
        opt_sources,
        opt_account,
        opt_phase,
        opt_worker,
        opt_metrics,
        opt_store_file,
        opt_websocket
    };
    static const option longs[] = {
        {"server", required_argument, nullptr, opt_server},
        {"ca", required_argument, nullptr, opt_ca},
        {"server-name", required_argument, nullptr, opt_server_name},
        {"secret-file", required_argument, nullptr, opt_secret},
        {"key-id", required_argument, nullptr, opt_key_id},
        {"token-format", required_argument, nullptr, opt_token_format},
        {"token-key", required_argument, nullptr, opt_token_key},
        {"sources", required_argument, nullptr, opt_sources},
        {"websocket", required_argument, nullptr, opt_websocket},
        {"account", required_argument, nullptr, opt_account},
        {"phase", required_argument, nullptr, opt_phase},
        {"worker", required_argument, nullptr, opt_worker},
        {"connections", required_argument, nullptr, 'n'},
        {"pairs", required_argument, nullptr, 'k'},
        {"devices", required_argument, nullptr, 'd'},
        {"size", required_argument, nullptr, 'b'},
        {"count", required_argument, nullptr, 'm'},
        {"window", required_argument, nullptr, 'w'},
        {"rate", required_argument, nullptr, 'r'},
        {"concurrency", required_argument, nullptr, 'c'},
        {"heartbeat", required_argument, nullptr, 'H'},
        {"hold", required_argument, nullptr, 'o'},
        {"timeout", required_argument, nullptr, 't'},
        {"pid", required_argument, nullptr, 'p'},
        {"store-pid", required_argument, nullptr, 'P'},
        {"kill", required_argument, nullptr, 'K'},
        {"seconds", required_argument, nullptr, 'S'},
        {"sample", required_argument, nullptr, 'e'},
        {"churn", required_argument, nullptr, 'u'},
        {"metrics", required_argument, nullptr, opt_metrics},
        {"store-file", required_argument, nullptr, opt_store_file},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    if (argc < 2 || argv[1][0] == '-') {
        usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    o->scenario = argv[1];
    optind = 2;
    int c;
    double v = 0;
    while ((c = getopt_long(argc, argv, "", longs, nullptr)) != -1) {
        const option *given = longs;
        while (given->name && given->val != c)
            given++;
        if (c < 128 && strchr("nkdbmwrcHotpPKSeu", c) && !parse_number(given->name, optarg, &v))
            return 2;
        switch (c) {
        case opt_server:
            o->servers.push_back(optarg);
            break;
        case opt_ca:
            o->ca = optarg;
            break;
        case opt_server_name:
            o->server_name = optarg;
            break;
        case opt_secret:
            o->secret_file = optarg;
            break;
        case opt_key_id:
            o->key_id = optarg;
            break;
        case opt_token_format:
            o->token_format = optarg;
            break;
        case opt_token_key:
            o->token_key = optarg;
            break;
        case opt_sources:
            hf_split_list(optarg, &o->sources);
            break;
        case opt_websocket:
            o->websocket = optarg;
            break;
        case opt_account:
            o->account = optarg;
            break;
        case opt_phase:
            o->phase = optarg;
            break;
        case opt_worker:
            if (sscanf(optarg, "%d/%d", &o->worker, &o->workers) != 2 || o->workers < 1 || o->worker < 0 ||
                o->worker >= o->workers) {
                fprintf(stderr, "handoff-bench: --worker wants K/N with 0 <= K < N, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'n':
            o->connections = uint64_t(v);
            break;
        case 'k':
            o->pairs = uint64_t(v);
            break;
        case 'd':
            o->devices = uint64_t(v);
            break;
        case 'b':
            o->size = uint64_t(v);
            break;
        case 'm':
            o->count = uint64_t(v);
            break;
        case 'w':
            o->window = uint64_t(v);
            break;
        case 'r':
            o->rate = v;
            break;
        case 'c':
            o->concurrency = uint64_t(v);
            break;
        case 'H':
            o->heartbeat_ms = uint32_t(v);
            break;
        case 'o':
            o->hold_s = v;
            break;
        case 't':
            o->timeout_s = v;
            break;
        case 'p':
            if (o->pids.empty())
                o->pid = int(v);
            o->pids.push_back(int(v));
            break;
        case 'P':
            o->store_pids.push_back(int(v));
            break;
        case 'K':
            o->kill = int(v);
            break;
        case 'S':
            o->seconds = v;
            break;
        case 'e':
            o->sample_s = v > 0 ? v : 60;
            break;
        case 'u':
            o->churn = v;
            break;
        case opt_metrics:
            o->metrics = optarg;
            break;
        case opt_store_file:
            o->store_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o->servers.empty() || o->ca.empty() || o->secret_file.empty()) {
        fprintf(stderr, "handoff-bench: --server, --ca and --secret-file are required\n");
        return 2;
    }
    if (o->phase != "queue" && o->phase != "receive" && o->phase != "both") {
        fprintf(stderr, "handoff-bench: --phase is queue, receive or both\n");
        return 2;
    }
    if (o->window == 0 || o->pairs == 0 || o->devices == 0 || o->concurrency == 0) {
        fprintf(stderr, "handoff-bench: --window, --pairs, --devices and --concurrency must be at least 1\n");
        return 2;
    }
    return -1;
}

// As many open files as the hard limit allows: a scenario may hold
// thousands of connections.
void raise_file_limit()
{
    rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

} // namespace

int main(int argc, char **argv)
{
    bench_ctx ctx;
    int rc = parse(argc, argv, &ctx.opt);
    if (rc >= 0)
        return rc;
    if (!read_secret(ctx.opt.secret_file, &ctx.secret) || !bench_token_setup(&ctx))
        return 2;
    raise_file_limit();
    ctx.tls = hf_link_tls_ctx(ctx.opt.ca.c_str());
    if (!ctx.tls) {
        fprintf(stderr, "handoff-bench: cannot read --ca %s\n", ctx.opt.ca.c_str());
        return 2;
    }
    ctx.base = event_base_new();
    ctx.run_id = "b" + std::to_string(time(nullptr)) + "-" + std::to_string(getpid());
    static const struct {
        const char *name;
        int (*run)(bench_ctx *);
    } scenarios[] = {
        {"idle", bench_idle},   {"pairs", bench_pairs}, {"fanout", bench_fanout},
        {"drain", bench_drain}, {"storm", bench_storm},
    };
    rc = -1;
    for (const auto &s : scenarios)
        if (ctx.opt.scenario == s.name)
            rc = s.run(&ctx);
    if (rc < 0) {
        fprintf(stderr, "handoff-bench: unknown scenario \"%s\"\n", ctx.opt.scenario.c_str());
        usage(stderr);
        rc = 2;
    }
    event_base_free(ctx.base);
    SSL_CTX_free(ctx.tls);
    return rc;
}
