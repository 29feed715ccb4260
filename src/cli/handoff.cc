#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/cli.h"
#include "proto/units.h"

namespace
{

void usage(FILE *out)
{
    fprintf(out,
            "usage: handoff token --secret-file F --account A --device D [--ttl DURATION] [--key-id K]\n"
            "                     [--format hf1|jwt]\n"
            "       handoff [COMMON] send --to DEVICE|'*' [--ttl SECONDS] [--collapse KEY] [--timeout S] [DATA|-]\n"
            "       handoff [COMMON] listen [--count N] [--timeout SECONDS] [--format raw|json] [--presence]\n"
            "       handoff [COMMON] ping [--timeout SECONDS]\n"
            "       handoff [COMMON] subscribe --app NAME [--vapid-key KEY] [--timeout S]   (needs --keys)\n"
            "       handoff [COMMON] unsubscribe --app NAME [--timeout S]                   (needs --keys)\n"
            "       handoff --keys FILE fingerprint\n"
            "       handoff [COMMON] wake [ROUTE_JSON | --drop PROVIDER] [--timeout S]\n"
            "       handoff [COMMON] devices [verify|approve DEVICE FINGERPRINT] [--timeout S] (needs --keys)\n"
            "\n"
            "COMMON:\n"
            "  --allocator HOST:PORT  allocator to ask (repeatable; env HANDOFF_ALLOCATOR, comma-separated)\n"
            "  --ca FILE              CA bundle that signed the servers (env HANDOFF_CA)\n"
            "  --server-name NAME     name the servers' certificates carry, if not their address's host\n"
            "                         (env HANDOFF_SERVER_NAME)\n"
            "  --token TOKEN          this device's token (env HANDOFF_TOKEN)\n"
            "  --keys FILE            this device's key file: its keys, Web Push secrets, trusted peers\n"
            "                         (env HANDOFF_KEYS)\n"
            "  --verbose              trace allocation, failover and backoff on stderr\n"
            "\n"
            "Exit status: 0 ok, 1 rejected, 2 usage, 3 timed out, 4 refused (token). See handoff(1).\n");
}

} // namespace

bool cli_parse_common(int *argc, char ***argv, cli_common *common)
{
    // Common options may stand before or after the command name, so they
    // are taken out wherever they are; the rest is left, in order, for the
    // command's own parser.
    static const char *const with_value[] = {"--allocator", "--ca", "--token", "--server-name", "--keys"};
    const size_t with_value_count = sizeof with_value / sizeof with_value[0];
    char **args = *argv;
    int kept = 1; // argv[0], the program name, stays
    for (int i = 1; i < *argc; i++) {
        const char *arg = args[i];
        if (!strcmp(arg, "--")) {
            while (i < *argc)
                args[kept++] = args[i++];
            break;
        }
        if (!strcmp(arg, "--verbose")) {
            common->verbose = true;
            continue;
        }
        const char *value = nullptr;
        size_t which = 0;
        for (; which < with_value_count; which++) {
            size_t n = strlen(with_value[which]);
            if (!strncmp(arg, with_value[which], n) && (arg[n] == '\0' || arg[n] == '=')) {
                if (arg[n] == '=')
                    value = arg + n + 1;
                else if (i + 1 < *argc)
                    value = args[++i];
                else {
                    fprintf(stderr, "handoff: %s needs a value\n", with_value[which]);
                    return false;
                }
                break;
            }
        }
        if (which == with_value_count) {
            args[kept++] = args[i];
            continue;
        }
        if (which == 0)
            hf_split_list(value, &common->allocators);
        else if (which == 1)
            common->ca = value;
        else if (which == 2)
            common->token = value;
        else if (which == 3)
            common->server_name = value;
        else
            common->keys_file = value;
    }
    // The command sees its own name as argv[0].
    *argc = kept - 1;
    *argv = args + 1;
    optind = 0;
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
        hf_split_list(env, &common.allocators);
    if (common.ca.empty() && (env = getenv("HANDOFF_CA")))
        common.ca = env;
    if (common.token.empty() && (env = getenv("HANDOFF_TOKEN")))
        common.token = env;
    if (common.server_name.empty() && (env = getenv("HANDOFF_SERVER_NAME")))
        common.server_name = env;
    if (common.keys_file.empty() && (env = getenv("HANDOFF_KEYS")))
        common.keys_file = env;
    // The key file is read (and made on first use) before anything else.
    char fingerprint[HF_FINGERPRINT_SIZE], err[512];
    if (!common.keys_file.empty() && hf_keys_fingerprint(common.keys_file.c_str(), fingerprint, err, sizeof err) != 0) {
        fprintf(stderr, "handoff: --keys: %s\n", err);
        return cli_usage;
    }
    if (argc < 1) {
        usage(stderr);
        return cli_usage;
    }
    const char *command = argv[0];
    if (!strcmp(command, "token")) {
        return cli_token(argc, argv);
    }
    if (!strcmp(command, "fingerprint"))
        return cli_fingerprint(argc, argv, &common);
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
    if (!strcmp(command, "subscribe") || !strcmp(command, "unsubscribe"))
        return cli_subscribe(argc, argv, &common);
    if (!strcmp(command, "devices"))
        return cli_devices(argc, argv, &common);
    if (!strcmp(command, "wake"))
        return cli_wake(argc, argv, &common);
    fprintf(stderr, "handoff: unknown command \"%s\"\n", command);
    usage(stderr);
    return cli_usage;
}
