// handoff fingerprint and handoff devices: the device's own fingerprint,
// and the account's devices with theirs and how far this device trusts
// each (docs/protocol.md, "Device keys"). A key seen for the first time is
// trusted on first use; one that changed since is shown "changed" and
// kept out until `devices verify DEVICE FINGERPRINT` names its new
// fingerprint, read off that device. `devices approve` verifies it too,
// and tells the account's other devices, which then take it as verified.
#include <getopt.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace
{

struct devices_job {
    std::string command;                           // "", "verify" or "approve"
    std::string verify_device, verify_fingerprint; // with verify and approve
    struct row {
        std::string device, fingerprint;
        int state;
        bool online;
    };
    std::vector<row> rows;
    bool asked = false;
};

void on_approval_sent(void *user, uint64_t, int status, int code, const char *text)
{
    auto *run = static_cast<cli_run *>(user);
    if (status == HF_SEND_REJECTED && code == HF_CLIENT_ERR_NO_KEYS) {
        printf("no other device with keys to tell\n");
    } else if (status == HF_SEND_REJECTED) {
        fprintf(stderr, "handoff devices: the approval was refused: %s: %s\n", hf_client_error_name(code), text);
        cli_finish(run, cli_rejected);
        return;
    } else {
        printf("approval %s for the account's other devices\n", status == HF_SEND_DELIVERED ? "delivered" : "stored");
    }
    fflush(stdout);
    cli_finish(run, cli_ok);
}

// verify and approve: the fingerprint read off the device is its
// published key's, or nothing changes.
void verify(cli_run *run, devices_job *job)
{
    const char *device = job->verify_device.c_str(), *fingerprint = job->verify_fingerprint.c_str();
    int rc = job->command == "approve" ? hf_client_approve_device(run->client, device, fingerprint, nullptr)
                                       : hf_client_verify_device(run->client, device, fingerprint);
    if (rc != 0) {
        fprintf(stderr,
                "handoff devices: %s's published key does not have fingerprint %s: not verified (compare with "
                "`handoff fingerprint` on that device)\n",
                device, fingerprint);
        cli_finish(run, cli_rejected);
        return;
    }
    printf("verified %s: %s\n", device, fingerprint);
    fflush(stdout);
    if (job->command == "verify")
        cli_finish(run, cli_ok);
}

void on_presence(void *user, const char *device, int online, int complete)
{
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<devices_job>(user);
    if (!complete) {
        char fingerprint[HF_FINGERPRINT_SIZE];
        int state = hf_client_key_state(run->client, device, fingerprint);
        job->rows.push_back({device, *fingerprint ? fingerprint : "-", state, online != 0});
        return;
    }
    if (!job->command.empty())
        return verify(run, job);
    printf("%-24s %-7s %-39s %s\n", "DEVICE", "ONLINE", "FINGERPRINT", "STATE");
    for (const auto &r : job->rows)
        printf("%-24s %-7s %-39s %s\n", r.device.c_str(), r.online ? "yes" : "no", r.fingerprint.c_str(),
               hf_key_state_name(r.state));
    fflush(stdout);
    cli_finish(run, cli_ok);
}

void on_state(void *user, int state, const char *detail)
{
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<devices_job>(user);
    if (!cli_first_connected(user, state, detail, &job->asked))
        return;
    if (hf_client_presence(run->client, 0, on_presence) != 0) {
        fprintf(stderr, "handoff devices: this server does not offer presence (an older handoffd?)\n");
        cli_finish(run, cli_rejected);
    }
}

} // namespace

int cli_fingerprint(int argc, char **, cli_common *common)
{
    char fingerprint[HF_FINGERPRINT_SIZE], err[512];
    if (argc != 1 || common->keys_file.empty()) {
        fprintf(stderr, "handoff fingerprint: needs --keys FILE and nothing else\n");
        return cli_usage;
    }
    if (hf_keys_fingerprint(common->keys_file.c_str(), fingerprint, err, sizeof err) != 0) {
        fprintf(stderr, "handoff fingerprint: %s\n", err);
        return cli_usage;
    }
    printf("%s\n", fingerprint);
    return cli_ok;
}

int cli_devices(int argc, char **argv, cli_common *common)
{
    enum { opt_timeout = 256 };
    static const struct option options[] = {
        {"timeout", required_argument, nullptr, opt_timeout},
        {nullptr, 0, nullptr, 0},
    };
    devices_job job;
    cli_run run;
    run.common = common;
    run.job = &job;
    double timeout_s = 10;
    int ch;
    while ((ch = getopt_long(argc, argv, "", options, nullptr)) != -1) {
        if (ch != opt_timeout || !cli_parse_seconds(optarg, &timeout_s)) {
            fprintf(stderr, "handoff devices: --timeout wants seconds\n");
            return cli_usage;
        }
    }
    std::vector<std::string> rest(argv + optind, argv + argc);
    if (common->keys_file.empty() ||
        !(rest.empty() || (rest.size() == 3 && (rest[0] == "verify" || rest[0] == "approve")))) {
        fprintf(stderr,
                "handoff devices: needs --keys FILE; takes nothing, or verify DEVICE FINGERPRINT, or approve DEVICE "
                "FINGERPRINT\n");
        return cli_usage;
    }
    if (!rest.empty()) {
        job.command = rest[0];
        job.verify_device = rest[1];
        job.verify_fingerprint = rest[2];
    }
    hf_client_callbacks cb{};
    cb.on_state = on_state;
    cb.on_send_result = on_approval_sent;
    if (!cli_start(&run, cb, timeout_s))
        return cli_usage;
    return cli_loop(&run);
}
