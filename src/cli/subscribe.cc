// handoff subscribe and unsubscribe: a Web Push subscription for an app
// (docs/push.md). The device makes its keys and keeps them in --keys
// FILE; subscribe prints the PushSubscription an application server takes.
#include <getopt.h>

#include <cstdio>
#include <cstring>

#include "cli/cli.h"
#include "proto/token.h"

namespace
{

struct subscribe_job {
    std::string command; // "subscribe" or "unsubscribe"
    std::string app, vapid_key;
    std::string endpoint; // as the server answered
    bool asked = false;
};

std::string encoded(const uint8_t *raw, size_t len)
{
    std::string out;
    hf_base64url_encode(std::string_view(reinterpret_cast<const char *>(raw), len), &out);
    return out;
}

// The client keeps the app's auth secret and endpoint in the key file
// (hf_client_use_keys); the subscription printed is the file's.
void on_subscription(void *user, const char *, const char *endpoint, const uint8_t *, size_t, int complete, int code,
                     const char *text)
{
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<subscribe_job>(user);
    if (!complete) {
        job->endpoint = endpoint;
        return;
    }
    if (code != 0) {
        fprintf(stderr, "handoff %s: refused: %s: %s\n", job->command.c_str(), hf_err_name(code), text ? text : "");
        cli_finish(run, cli_rejected);
        return;
    }
    if (job->command == "subscribe") {
        uint8_t p256dh[HF_PUSH_PUBLIC_KEY_LEN], auth[HF_PUSH_AUTH_LEN];
        if (hf_client_push_keys(run->client, job->app.c_str(), p256dh, auth) != 0) {
            fprintf(stderr, "handoff subscribe: the key file could not keep the subscription's keys\n");
            cli_finish(run, cli_rejected);
            return;
        }
        printf("{\"endpoint\":\"%s\",\"expirationTime\":null,\"keys\":{\"p256dh\":\"%s\",\"auth\":\"%s\"}}\n",
               job->endpoint.c_str(), encoded(p256dh, sizeof p256dh).c_str(), encoded(auth, sizeof auth).c_str());
        fflush(stdout);
    }
    cli_finish(run, cli_ok);
}

void on_state(void *user, int state, const char *detail)
{
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<subscribe_job>(user);
    if (!cli_first_connected(user, state, detail, &job->asked))
        return;
    bool remove = job->command == "unsubscribe";
    const auto *key = reinterpret_cast<const uint8_t *>(job->vapid_key.data());
    if (hf_client_subscribe(run->client, job->app.c_str(), job->vapid_key.empty() ? nullptr : key,
                            job->vapid_key.size(), remove, on_subscription) != 0) {
        fprintf(stderr,
                "handoff %s: this server does not offer Web Push (push.key_file is not set, or an older "
                "handoffd)\n",
                job->command.c_str());
        cli_finish(run, cli_rejected);
    }
}

} // namespace

int cli_subscribe(int argc, char **argv, cli_common *common)
{
    enum { opt_app = 256, opt_vapid_key, opt_timeout };
    static const struct option options[] = {
        {"app", required_argument, nullptr, opt_app},
        {"vapid-key", required_argument, nullptr, opt_vapid_key},
        {"timeout", required_argument, nullptr, opt_timeout},
        {nullptr, 0, nullptr, 0},
    };
    subscribe_job job;
    job.command = argv[0];
    cli_run run;
    run.common = common;
    run.job = &job;
    double timeout_s = 10;
    const char *name = job.command.c_str();
    int ch;
    while ((ch = getopt_long(argc, argv, "", options, nullptr)) != -1) {
        switch (ch) {
        case opt_app:
            job.app = optarg;
            break;
        case opt_vapid_key: {
            std::string text = optarg;
            while (!text.empty() && text.back() == '=')
                text.pop_back();
            if (job.command != "subscribe" || !hf_base64url_decode(text, &job.vapid_key) ||
                job.vapid_key.size() != HF_PUSH_PUBLIC_KEY_LEN) {
                fprintf(stderr,
                        "handoff %s: --vapid-key wants the application server's public key, base64url (65 "
                        "bytes: web-push's publicKey)\n",
                        name);
                return cli_usage;
            }
            break;
        }
        case opt_timeout:
            if (!cli_parse_seconds(optarg, &timeout_s)) {
                fprintf(stderr, "handoff %s: --timeout wants seconds\n", name);
                return cli_usage;
            }
            break;
        default:
            return cli_usage;
        }
    }
    if (optind != argc || job.app.empty() || common->keys_file.empty()) {
        fprintf(stderr, "handoff %s: needs --app NAME and --keys FILE\n", name);
        return cli_usage;
    }
    hf_client_callbacks cb{};
    cb.on_state = on_state;
    if (!cli_start(&run, cb, timeout_s))
        return cli_usage;
    return cli_loop(&run);
}
