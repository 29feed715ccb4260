// handoff send: sends one message and waits for its SEND_ACK.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/cli.h"

namespace
{

struct send_job {
    cli_run run;
    std::string to, payload, collapse;
    uint32_t ttl_s = 0;
};

void on_send_result(void *user, uint64_t, int status, int code, const char *text)
{
    auto *job = cli_job<send_job>(user);
    if (status != HF_SEND_REJECTED && text && *text)
        fprintf(stderr, "handoff send: %s\n", text); // devices an end-to-end send to '*' left out
    if (status == HF_SEND_DELIVERED) {
        printf("delivered\n");
        cli_finish(&job->run, cli_ok);
    } else if (status == HF_SEND_STORED) {
        printf("stored\n");
        cli_finish(&job->run, cli_ok);
    } else {
        // An end-to-end send refused before any copy went says so.
        bool before_sending = code == HF_CLIENT_ERR_KEY_CHANGED || code == HF_CLIENT_ERR_NO_KEYS;
        fprintf(
            stderr, "rejected: %s: %s%s\n", hf_client_error_name(code), text,
            code == HF_CLIENT_ERR_KEY_CHANGED
                ? " (`handoff fingerprint` there, then `handoff devices verify DEVICE FINGERPRINT` here); nothing was "
                  "sent"
            : before_sending ? "; nothing was sent"
                             : "");
        cli_finish(&job->run, cli_rejected);
    }
    fflush(stdout);
}

bool read_all(FILE *f, std::string *out)
{
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        out->append(buf, n);
    return !ferror(f);
}

} // namespace

int cli_send(int argc, char **argv, cli_common *common)
{
    enum { opt_to = 256, opt_ttl, opt_collapse, opt_timeout, opt_e2e };
    static const struct option options[] = {
        {"to", required_argument, nullptr, opt_to},
        {"ttl", required_argument, nullptr, opt_ttl},
        {"collapse", required_argument, nullptr, opt_collapse},
        {"timeout", required_argument, nullptr, opt_timeout},
        {"e2e", no_argument, nullptr, opt_e2e},
        {nullptr, 0, nullptr, 0},
    };
    send_job job;
    job.run.common = common;
    job.run.job = &job;
    double timeout_s = 10;
    bool e2e = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "", options, nullptr)) != -1) {
        switch (ch) {
        case opt_to:
            job.to = optarg;
            break;
        case opt_ttl: {
            char *end;
            long ttl = strtol(optarg, &end, 10);
            if (*end || ttl < 1 || ttl > UINT32_MAX) {
                fprintf(stderr, "handoff send: --ttl wants whole seconds, at least 1\n");
                return cli_usage;
            }
            job.ttl_s = uint32_t(ttl);
            break;
        }
        case opt_collapse:
            job.collapse = optarg;
            break;
        case opt_timeout:
            if (!cli_parse_seconds(optarg, &timeout_s)) {
                fprintf(stderr, "handoff send: --timeout wants seconds\n");
                return cli_usage;
            }
            break;
        case opt_e2e:
            e2e = true;
            break;
        default:
            return cli_usage;
        }
    }
    if (job.to.empty() || argc - optind > 1) {
        fprintf(stderr, "handoff send: give --to DEVICE (or '*') and at most one DATA argument (- reads stdin)\n");
        return cli_usage;
    }
    if (optind == argc || !strcmp(argv[optind], "-")) {
        if (!read_all(stdin, &job.payload)) {
            fprintf(stderr, "handoff send: cannot read stdin\n");
            return cli_usage;
        }
    } else {
        job.payload = argv[optind];
    }
    if (e2e && common->keys_file.empty()) {
        fprintf(stderr, "handoff send: --e2e needs --keys FILE (this device's keys)\n");
        return cli_usage;
    }
    hf_client_callbacks cb{};
    cb.on_send_result = on_send_result;
    if (!cli_start(&job.run, cb, timeout_s))
        return cli_usage;
    const char *collapse = job.collapse.empty() ? nullptr : job.collapse.c_str();
    int rc = e2e ? hf_client_send_e2e(job.run.client, job.to.c_str(), job.payload.data(), job.payload.size(), job.ttl_s,
                                      collapse, nullptr)
                 : hf_client_send(job.run.client, job.to.c_str(), job.payload.data(), job.payload.size(), job.ttl_s,
                                  collapse, nullptr);
    if (rc == HF_ERR_PAYLOAD_TOO_LARGE || rc == HF_ERR_BAD_TARGET) {
        // Refused before anything was sent: no server would take it.
        fprintf(stderr, "rejected: %s: %s\n", hf_err_name(rc),
                rc == HF_ERR_BAD_TARGET
                    ? "--to and --collapse must be UTF-8 text"
                    : ("the message is " + std::to_string(job.payload.size() + (e2e ? HF_E2E_OVERHEAD : 0)) +
                       " bytes; a server takes at most its max_payload (261888 by default)")
                          .c_str());
        cli_finish(&job.run, cli_rejected);
    }
    return cli_loop(&job.run);
}
