// handoff fingerprint and handoff devices: the device's own fingerprint,
// and the account's devices with theirs and how far this device trusts
// each (docs/protocol.md, "Device keys"). A key seen for the first time is
// trusted on first use; one that changed since is shown "changed" and
// kept out until `devices verify DEVICE FINGERPRINT` names its new
// fingerprint, read off that device.
#include <getopt.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "proto/device_key.h"

namespace
{

struct devices_job {
    std::string verify_device, verify_fingerprint; // empty: list
    struct row {
        std::string device, fingerprint, state;
        bool online;
    };
    std::vector<row> rows;
    bool asked = false;
    bool changed = false; // the key file was changed
};

void on_presence(void *user, const char *device, int online, int complete)
{
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<devices_job>(user);
    cli_keys &keys = run->common->keys;
    if (!complete) {
        uint8_t key[HF_DEVICE_KEYS_LEN];
        std::string published;
        if (hf_client_device_key(run->client, device, key) == 0)
            published.assign(reinterpret_cast<char *>(key), sizeof key);
        std::string state = cli_keys_trust(&keys, device, published, &job->changed);
        job->rows.push_back(
            {device, published.empty() ? "-" : hf_device_key_fingerprint(published), state, online != 0});
        if (device == job->verify_device && !published.empty() &&
            hf_device_key_fingerprint(published) == job->verify_fingerprint) {
            keys.peers[device] = {published, "verified"};
            job->changed = true;
        }
        return;
    }
    std::string err;
    if (job->changed && !cli_keys_save(run->common->keys_file, keys, &err)) {
        fprintf(stderr, "handoff devices: %s\n", err.c_str());
        cli_finish(run, cli_rejected);
        return;
    }
    if (!job->verify_device.empty()) {
        auto peer = keys.peers.find(job->verify_device);
        if (peer == keys.peers.end() || peer->second.state != "verified" ||
            hf_device_key_fingerprint(peer->second.key) != job->verify_fingerprint) {
            fprintf(stderr,
                    "handoff devices: %s's published key does not have fingerprint %s: not verified (compare with "
                    "`handoff fingerprint` on that device)\n",
                    job->verify_device.c_str(), job->verify_fingerprint.c_str());
            cli_finish(run, cli_rejected);
            return;
        }
        printf("verified %s: %s\n", job->verify_device.c_str(), job->verify_fingerprint.c_str());
        cli_finish(run, cli_ok);
        return;
    }
    printf("%-24s %-7s %-39s %s\n", "DEVICE", "ONLINE", "FINGERPRINT", "STATE");
    for (const auto &r : job->rows)
        printf("%-24s %-7s %-39s %s\n", r.device.c_str(), r.online ? "yes" : "no", r.fingerprint.c_str(),
               r.state.c_str());
    fflush(stdout);
    cli_finish(run, cli_ok);
}

void on_state(void *user, int state, const char *detail)
{
    cli_on_state(user, state, detail);
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<devices_job>(user);
    if (state != HF_CLIENT_CONNECTED || job->asked)
        return;
    job->asked = true;
    if (hf_client_presence(run->client, 0, on_presence) != 0) {
        fprintf(stderr, "handoff devices: this server does not offer presence (an older handoffd?)\n");
        cli_finish(run, cli_rejected);
    }
}

} // namespace

int cli_fingerprint(int argc, char **, cli_common *common)
{
    if (argc != 1 || common->keys_file.empty()) {
        fprintf(stderr, "handoff fingerprint: needs --keys FILE and nothing else\n");
        return cli_usage;
    }
    printf("%s\n", hf_device_key_fingerprint(cli_keys_device_key(common->keys)).c_str());
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
    if (common->keys_file.empty() || !(rest.empty() || (rest.size() == 3 && rest[0] == "verify"))) {
        fprintf(stderr, "handoff devices: needs --keys FILE; takes nothing, or verify DEVICE FINGERPRINT\n");
        return cli_usage;
    }
    if (!rest.empty()) {
        job.verify_device = rest[1];
        job.verify_fingerprint = rest[2];
    }
    hf_client_callbacks cb{};
    cb.on_state = on_state;
    if (!cli_start(&run, cb, timeout_s))
        return cli_usage;
    return cli_loop(&run);
}
