#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/cli.h"

namespace {

void usage(FILE *out)
{
    fprintf(out,
            "usage: handoff token --secret-file F --account A --device D [--ttl DURATION] [--key-id K]\n"
            "       handoff [COMMON] send --to DEVICE|'*' [--ttl SECONDS] [--collapse KEY] [--timeout S] [DATA|-]\n"
            "       handoff [COMMON] listen [--count N] [--timeout SECONDS] [--format raw|json]\n"
            "       handoff [COMMON] ping [--timeout SECONDS]\n"
            "\n"
            "COMMON:\n"
            "  --allocator HOST:PORT  allocator to ask (repeatable; env HANDOFF_ALLOCATOR, comma-separated)\n"
            "  --ca FILE              CA bundle that signed the servers (env HANDOFF_CA)\n"
            "  --token TOKEN          this device's token (env HANDOFF_TOKEN)\n"
            "  --verbose              trace allocation, failover and backoff on stderr\n"
            "\n"
            "Exit status: 0 ok, 1 rejected, 2 usage, 3 timed out, 4 refused (token). See handoff(1).\n");
}

void split_list(const char *text, std::vector<std::string> *out)
{
    std::string s = text;
    size_t start = 0;
    while (start <= s.size()) {
        size_t comma = s.find(',', start);
        std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty())
            out->push_back(item);
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
}

} // namespace

bool cli_parse_common(int *argc, char ***argv, cli_common *common)
{
    enum { opt_allocator = 256, opt_ca, opt_token, opt_verbose };
    static const struct option options[] = {
        {"allocator", required_argument, nullptr, opt_allocator},
        {"ca", required_argument, nullptr, opt_ca},
        {"token", required_argument, nullptr, opt_token},
        {"verbose", no_argument, nullptr, opt_verbose},
        {nullptr, 0, nullptr, 0},
    };
    // "+" stops at the command name: its options are its own.
    int ch;
    while ((ch = getopt_long(*argc, *argv, "+", options, nullptr)) != -1) {
        switch (ch) {
        case opt_allocator:
            split_list(optarg, &common->allocators);
            break;
        case opt_ca:
            common->ca = optarg;
            break;
        case opt_token:
            common->token = optarg;
            break;
        case opt_verbose:
            common->verbose = true;
            break;
        default:
            return false;
        }
    }
    *argc -= optind;
    *argv += optind;
    optind = 0; // the command parses its own options from the start
    return true;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return cli_ok;
    }
    if (argc >= 2 && !strcmp(argv[1], "token"))
        return cli_token(argc - 1, argv + 1);
    cli_common common;
    if (!cli_parse_common(&argc, &argv, &common)) {
        usage(stderr);
        return cli_usage;
    }
    // Options that were not given come from the environment.
    const char *env;
    if (common.allocators.empty() && (env = getenv("HANDOFF_ALLOCATOR")))
        split_list(env, &common.allocators);
    if (common.ca.empty() && (env = getenv("HANDOFF_CA")))
        common.ca = env;
    if (common.token.empty() && (env = getenv("HANDOFF_TOKEN")))
        common.token = env;
    if (argc < 1) {
        usage(stderr);
        return cli_usage;
    }
    const char *command = argv[0];
    if (!strcmp(command, "token")) {
        return cli_token(argc, argv);
    }
    if (common.allocators.empty() || common.token.empty()) {
        fprintf(stderr, "handoff: %s needs --allocator and --token (or HANDOFF_ALLOCATOR and HANDOFF_TOKEN)\n",
                command);
        return cli_usage;
    }
    if (!strcmp(command, "send"))
        return cli_send(argc, argv, &common);
    if (!strcmp(command, "listen"))
        return cli_listen(argc, argv, &common);
    if (!strcmp(command, "ping"))
        return cli_ping(argc, argv, &common);
    fprintf(stderr, "handoff: unknown command \"%s\"\n", command);
    usage(stderr);
    return cli_usage;
}
