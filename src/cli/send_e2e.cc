// handoff send --e2e: one copy per target device, encrypted to its
// published keys and signed with this device's (proto/e2e.h), after the
// account's devices and their keys are read from presence. A target whose
// key changed since this device trusted it is not sent anything, and the
// send is refused naming it.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/send_e2e.h"
#include "proto/device_key.h"
#include "proto/e2e.h"

namespace
{

struct e2e_job {
    cli_run *run;
    cli_e2e_send send;
    std::vector<std::string> devices; // as presence listed them
    size_t unanswered = 0;
    int stored = 0, delivered = 0;
    bool failed = false;
};

e2e_job *job_of(void *user)
{
    return static_cast<e2e_job *>(static_cast<cli_run *>(user)->job);
}

void on_result(void *user, uint64_t, int status, int code, const char *text)
{
    e2e_job *job = job_of(user);
    if (status == HF_SEND_DELIVERED)
        job->delivered++;
    else if (status == HF_SEND_STORED)
        job->stored++;
    else if (!job->failed) {
        job->failed = true;
        fprintf(stderr, "rejected: %s: %s\n", hf_err_name(code), text);
    }
    if (--job->unanswered > 0)
        return;
    if (job->failed) {
        cli_finish(job->run, cli_rejected);
        return;
    }
    printf("%s\n", job->stored ? "stored" : "delivered");
    fflush(stdout);
    cli_finish(job->run, cli_ok);
}

// Refuses the whole send before any copy goes.
void refuse(e2e_job *job, const std::string &why)
{
    fprintf(stderr, "handoff send: %s; nothing was sent\n", why.c_str());
    cli_finish(job->run, cli_rejected);
}

void on_presence(void *user, const char *device, int, int complete)
{
    e2e_job *job = job_of(user);
    if (!complete) {
        job->devices.push_back(device);
        return;
    }
    cli_run *run = job->run;
    cli_keys &keys = run->common->keys;
    std::string self = hf_client_device(run->client);
    std::vector<std::string> targets;
    for (const std::string &d : job->devices)
        if (job->send.to == "*" ? d != self : d == job->send.to)
            targets.push_back(d);
    if (targets.empty())
        return refuse(job, job->send.to == "*" ? "the account has no other device"
                                               : "the account has no device " + job->send.to);
    // Every target's key first: a changed one stops the send whole.
    bool changed = false;
    std::vector<std::string> target_keys, kept;
    for (const std::string &d : targets) {
        uint8_t key[HF_DEVICE_KEYS_LEN];
        std::string published;
        if (hf_client_device_key(run->client, d.c_str(), key) == 0)
            published.assign(reinterpret_cast<char *>(key), sizeof key);
        std::string state = cli_keys_trust(&keys, d, published, &changed);
        if (state == "none" && job->send.to == "*") {
            // Never set up for them, or revoked: its keys went.
            fprintf(stderr, "handoff send: %s published no keys: not sent to it\n", d.c_str());
            continue;
        }
        if (state == "none")
            return refuse(job, d + " published no keys: it takes no end-to-end messages");
        if (state == "changed")
            return refuse(job, "the key of " + d + " changed (fingerprint now " + hf_device_key_fingerprint(published) +
                                   ", trusted " + hf_device_key_fingerprint(keys.peers[d].key) +
                                   "): compare it with `handoff fingerprint` on " + d +
                                   ", then `handoff devices verify " + d + " FINGERPRINT`");
        target_keys.push_back(published);
        kept.push_back(d);
    }
    targets.swap(kept);
    if (targets.empty())
        return refuse(job, "no other device of the account published keys");
    std::string err;
    if (changed && !cli_keys_save(run->common->keys_file, keys, &err))
        return refuse(job, err);
    hf_ece_keys signing{keys.signing_private_key, keys.signing_public_key};
    job->unanswered = targets.size();
    for (size_t i = 0; i < targets.size(); i++) {
        std::string payload;
        if (!hf_e2e_seal(signing, self, targets[i], target_keys[i], job->send.payload, &payload))
            return refuse(job, "cannot encrypt to " + targets[i]);
        int rc = hf_client_send(run->client, targets[i].c_str(), payload.data(), payload.size(), job->send.ttl_s,
                                job->send.collapse.empty() ? nullptr : job->send.collapse.c_str(), nullptr);
        if (rc != 0)
            return refuse(job, std::string("refused at once: ") + hf_err_name(rc));
    }
}

void on_state(void *user, int state, const char *detail)
{
    cli_on_state(user, state, detail);
    e2e_job *job = job_of(user);
    cli_run *run = job->run;
    if (state != HF_CLIENT_CONNECTED || job->unanswered > 0 || !job->devices.empty())
        return;
    if (hf_client_presence(run->client, 0, on_presence) != 0)
        refuse(job, "this server does not offer presence, which end-to-end sends need (an older handoffd?)");
}

} // namespace

int cli_send_e2e(cli_common *common, const cli_e2e_send &send, double timeout_s)
{
    if (common->keys_file.empty()) {
        fprintf(stderr, "handoff send: --e2e needs --keys FILE (this device's keys)\n");
        return cli_usage;
    }
    cli_run run;
    e2e_job job{&run, send, {}, 0, 0, 0, false};
    run.common = common;
    run.job = &job;
    hf_client_callbacks cb{};
    cb.on_state = on_state;
    cb.on_send_result = on_result;
    if (!cli_start(&run, cb, timeout_s))
        return cli_usage;
    return cli_loop(&run);
}
