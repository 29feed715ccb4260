// handoff ping: connects and measures one round trip.
#include <getopt.h>

#include <cstdio>

#include "cli/cli.h"

namespace
{

void on_state(void *user, int state, const char *detail)
{
    cli_on_state(user, state, detail);
    if (state == HF_CLIENT_CONNECTED)
        hf_client_ping(static_cast<cli_run *>(user)->client);
}

void on_pong(void *user, uint64_t rtt_us)
{
    printf("rtt %.3f ms\n", double(rtt_us) / 1000.0);
    fflush(stdout);
    cli_finish(static_cast<cli_run *>(user), cli_ok);
}

} // namespace

int cli_ping(int argc, char **argv, cli_common *common)
{
    static const struct option options[] = {
        {"timeout", required_argument, nullptr, 't'},
        {nullptr, 0, nullptr, 0},
    };
    double timeout_s = 10;
    int ch;
    while ((ch = getopt_long(argc, argv, "", options, nullptr)) != -1) {
        if (ch != 't' || !cli_parse_seconds(optarg, &timeout_s)) {
            fprintf(stderr, "handoff ping: the only option is --timeout SECONDS\n");
            return cli_usage;
        }
    }
    cli_run run;
    run.common = common;
    hf_client_callbacks cb{};
    cb.on_state = on_state;
    cb.on_pong = on_pong;
    if (!cli_start(&run, cb, timeout_s))
        return cli_usage;
    return cli_loop(&run);
}
