// handoff wake: this device's wake routes (docs/wake.md), set through its
// own connection: a route's JSON sets that provider's, --drop PROVIDER
// drops one, nothing only asks. Prints the daemon's VAPID key, the
// applicationServerKey a Web Push subscription for wake-ups needs.
#include <getopt.h>

#include <cstdio>
#include <string>

#include "cli/cli.h"
#include "proto/token.h"

namespace
{

struct wake_job {
    std::string route, drop;
    bool asked = false;
};

void on_answer(void *user, int code, const char *text, const uint8_t *vapid_key, size_t vapid_key_len)
{
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<wake_job>(user);
    if (code != 0) {
        fprintf(stderr, "handoff wake: refused: %s: %s\n", hf_err_name(code), text ? text : "");
        cli_finish(run, cli_rejected);
        return;
    }
    if (!job->route.empty())
        printf("route set\n");
    else if (!job->drop.empty())
        printf("%s route dropped\n", job->drop.c_str());
    if (vapid_key) {
        std::string key;
        hf_base64url_encode(std::string_view(reinterpret_cast<const char *>(vapid_key), vapid_key_len), &key);
        printf("vapid_key %s\n", key.c_str());
    }
    fflush(stdout);
    cli_finish(run, cli_ok);
}

void on_state(void *user, int state, const char *detail)
{
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<wake_job>(user);
    if (!cli_first_connected(user, state, detail, &job->asked))
        return;
    if (hf_client_wake_route(run->client, job->route.empty() ? nullptr : job->route.c_str(),
                             job->drop.empty() ? nullptr : job->drop.c_str(), on_answer) != 0) {
        fprintf(stderr, "handoff wake: this server sends no wake-ups (no wake.* provider, or an older handoffd)\n");
        cli_finish(run, cli_rejected);
    }
}

} // namespace

int cli_wake(int argc, char **argv, cli_common *common)
{
    enum { opt_drop = 256, opt_timeout };
    static const struct option options[] = {
        {"drop", required_argument, nullptr, opt_drop},
        {"timeout", required_argument, nullptr, opt_timeout},
        {nullptr, 0, nullptr, 0},
    };
    wake_job job;
    cli_run run;
    run.common = common;
    run.job = &job;
    double timeout_s = 10;
    int ch;
    while ((ch = getopt_long(argc, argv, "", options, nullptr)) != -1) {
        if (ch == opt_drop) {
            job.drop = optarg;
        } else if (ch != opt_timeout || !cli_parse_seconds(optarg, &timeout_s)) {
            fprintf(stderr, "handoff wake: --drop takes a provider (webpush, fcm, apns), --timeout seconds\n");
            return cli_usage;
        }
    }
    if (argc - optind > 1 || (optind < argc && !job.drop.empty())) {
        fprintf(stderr, "handoff wake: takes a route's JSON, or --drop PROVIDER, or nothing\n");
        return cli_usage;
    }
    if (optind < argc)
        job.route = argv[optind];
    hf_client_callbacks cb{};
    cb.on_state = on_state;
    if (!cli_start(&run, cb, timeout_s))
        return cli_usage;
    return cli_loop(&run);
}
