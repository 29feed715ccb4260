// handoff listen: prints each message, then acknowledges it; with
// --presence, the account's devices coming and going too.
#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/keys.h"
#include "proto/device_key.h"
#include "proto/e2e.h"
#include "proto/token.h"
#include "proto/utf8.h"

namespace
{

struct listen_job {
    long count = 0; // 0: no limit
    long received = 0;
    bool json = false;
    bool presence = false; // --presence
    bool presence_asked = false;
    cli_keys *keys = nullptr; // --keys: pushes and end-to-end messages are decrypted
    // End-to-end messages wait for their senders' keys (a presence
    // answer), and every message behind them waits too: acknowledgements
    // are cumulative, and the order is kept.
    struct held_message {
        std::string from, app, payload;
        uint64_t seq, id, stored_at_ms;
        int urgency, e2e;
    };
    std::vector<held_message> held;
    bool keys_asked = false; // a presence answer for the keys is coming
};

void print_json_string(std::string_view s)
{
    putchar('"');
    for (unsigned char ch : s) {
        switch (ch) {
        case '"':
            fputs("\\\"", stdout);
            break;
        case '\\':
            fputs("\\\\", stdout);
            break;
        case '\n':
            fputs("\\n", stdout);
            break;
        case '\r':
            fputs("\\r", stdout);
            break;
        case '\t':
            fputs("\\t", stdout);
            break;
        default:
            if (ch < 0x20)
                printf("\\u%04x", ch);
            else
                putchar(ch);
        }
    }
    putchar('"');
}

void print_message(const listen_job *job, const hf_client_message *msg, std::string_view payload)
{
    if (!job->json) {
        fwrite(payload.data(), 1, payload.size(), stdout);
        putchar('\n');
        return;
    }
    printf("{\"from\":");
    print_json_string(msg->from);
    printf(",\"seq\":%llu,\"id\":%llu,", (unsigned long long)msg->seq, (unsigned long long)msg->id);
    if (msg->e2e)
        printf("\"e2e\":true,");
    if (msg->app) {
        static const char *const urgencies[] = {"very-low", "low", "normal", "high"};
        printf("\"app\":");
        print_json_string(msg->app);
        printf(",\"urgency\":\"%s\",", msg->urgency >= 0 && msg->urgency <= 3 ? urgencies[msg->urgency] : "normal");
    }
    // JSON strings are text: binary payloads travel as base64url instead.
    if (hf_utf8_valid(payload)) {
        printf("\"payload\":");
        print_json_string(payload);
    } else {
        std::string encoded;
        hf_base64url_encode(payload, &encoded);
        printf("\"payload_base64url\":\"%s\"", encoded.c_str());
    }
    printf("}\n");
}

// The plaintext of an end-to-end message, checked against the sender's
// key as this device trusts it; false with why (it is then refused).
bool open_e2e(cli_run *run, listen_job *job, const hf_client_message *msg, std::string *plaintext, std::string *why)
{
    uint8_t key[HF_DEVICE_KEYS_LEN];
    std::string published;
    if (hf_client_device_key(run->client, msg->from, key) == 0)
        published.assign(reinterpret_cast<char *>(key), sizeof key);
    bool changed = false;
    std::string state = cli_keys_trust(job->keys, msg->from, published, &changed);
    std::string err;
    if (changed && !cli_keys_save(run->common->keys_file, *job->keys, &err))
        fprintf(stderr, "handoff listen: %s\n", err.c_str());
    if (state == "none") {
        *why = std::string(msg->from) + " published no keys";
        return false;
    }
    if (state == "changed") {
        *why = std::string("the key of ") + msg->from + " changed (fingerprint now " +
               hf_device_key_fingerprint(published) + "): verify it with handoff devices verify";
        return false;
    }
    const char *reason = nullptr;
    hf_ece_keys ecdh{job->keys->private_key, job->keys->public_key};
    if (!hf_e2e_open(ecdh, msg->from, hf_client_device(run->client), published,
                     std::string_view(reinterpret_cast<const char *>(msg->payload), msg->payload_len), plaintext,
                     &reason)) {
        *why = reason;
        return false;
    }
    return true;
}

// Prints and acknowledges msg, or refuses it (to the dead letters) when
// it does not open with this device's keys: it will not later either.
void take(cli_run *run, listen_job *job, const hf_client_message *msg)
{
    std::string_view payload(reinterpret_cast<const char *>(msg->payload), msg->payload_len);
    std::string plaintext, why;
    bool opened = true;
    if (msg->app && job->keys)
        opened = cli_keys_open(*job->keys, msg->app, msg->payload, msg->payload_len, &plaintext, &why);
    else if (msg->e2e && job->keys)
        opened = open_e2e(run, job, msg, &plaintext, &why);
    if (!opened) {
        fprintf(stderr, "handoff listen: %s %s (id %llu): %s; refused\n",
                msg->app ? "a push for app" : "a message from", msg->app ? msg->app : msg->from,
                (unsigned long long)msg->id, why.c_str());
        hf_client_refuse(run->client, msg->seq, HF_ERR_BAD_FIELD, why.c_str());
        return;
    }
    if (job->keys && (msg->app || msg->e2e))
        payload = plaintext;
    print_message(job, msg, payload);
    fflush(stdout);
    hf_client_ack(run->client, msg->seq);
    if (job->count && ++job->received == job->count)
        cli_finish_after_flush(run, cli_ok);
}

void take_held(cli_run *run, listen_job *job)
{
    std::vector<listen_job::held_message> held;
    held.swap(job->held);
    for (const auto &h : held) {
        if (run->done || run->flushing)
            return;
        hf_client_message msg{h.from.c_str(),
                              h.seq,
                              h.id,
                              reinterpret_cast<const uint8_t *>(h.payload.data()),
                              h.payload.size(),
                              h.stored_at_ms,
                              h.app.empty() ? nullptr : h.app.c_str(),
                              h.urgency,
                              h.e2e};
        take(run, job, &msg);
    }
}

void on_keys(void *user, const char *, int, int complete)
{
    auto *job = cli_job<listen_job>(user);
    if (!complete)
        return;
    job->keys_asked = false;
    take_held(static_cast<cli_run *>(user), job);
}

void on_presence(void *user, const char *device, int online, int complete);

void on_message(void *user, const hf_client_message *msg)
{
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<listen_job>(user);
    if (run->done || run->flushing)
        return; // past --count: left for the next listener
    uint8_t key[HF_DEVICE_KEYS_LEN];
    bool key_unknown = msg->e2e && !msg->app && job->keys && hf_client_device_key(run->client, msg->from, key) != 0;
    if (job->held.empty() && !key_unknown) {
        take(run, job, msg);
        return;
    }
    job->held.push_back({msg->from, msg->app ? msg->app : "",
                         std::string(reinterpret_cast<const char *>(msg->payload), msg->payload_len), msg->seq, msg->id,
                         msg->stored_at_ms, msg->urgency, msg->e2e});
    if (!job->keys_asked) {
        job->keys_asked = true;
        if (hf_client_presence(run->client, job->presence ? 1 : 0, job->presence ? on_presence : on_keys) != 0)
            take_held(run, job); // no presence: what needs keys is refused
    }
}

// "presence DEVICE online|offline" (raw), or {"presence":...} (json); the
// end of an answer prints nothing.
void on_presence(void *user, const char *device, int online, int complete)
{
    if (complete) {
        on_keys(user, device, online, complete);
        return;
    }
    if (cli_job<listen_job>(user)->json) {
        printf("{\"presence\":{\"device\":");
        print_json_string(device);
        printf(",\"online\":%s}}\n", online ? "true" : "false");
    } else {
        printf("presence %s %s\n", device, online ? "online" : "offline");
    }
    fflush(stdout);
}

// Once connected, --presence asks (the client asks again after each
// reconnect).
void on_state(void *user, int state, const char *detail)
{
    cli_on_state(user, state, detail);
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<listen_job>(user);
    if (state != HF_CLIENT_CONNECTED || !job->presence || job->presence_asked)
        return;
    job->presence_asked = true;
    if (hf_client_presence(run->client, 1, on_presence) != 0)
        fprintf(stderr, "handoff listen: this server does not offer presence (an older handoffd?)\n");
}

} // namespace

int cli_listen(int argc, char **argv, cli_common *common)
{
    enum { opt_count = 256, opt_timeout, opt_format, opt_presence };
    static const struct option options[] = {
        {"count", required_argument, nullptr, opt_count},
        {"timeout", required_argument, nullptr, opt_timeout},
        {"format", required_argument, nullptr, opt_format},
        {"presence", no_argument, nullptr, opt_presence},
        {nullptr, 0, nullptr, 0},
    };
    listen_job job;
    cli_run run;
    run.common = common;
    run.job = &job;
    double timeout_s = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "", options, nullptr)) != -1) {
        switch (ch) {
        case opt_count: {
            char *end;
            job.count = strtol(optarg, &end, 10);
            if (*end || job.count < 1) {
                fprintf(stderr, "handoff listen: --count wants a positive number\n");
                return cli_usage;
            }
            break;
        }
        case opt_timeout:
            if (!cli_parse_seconds(optarg, &timeout_s)) {
                fprintf(stderr, "handoff listen: --timeout wants seconds\n");
                return cli_usage;
            }
            break;
        case opt_format:
            if (strcmp(optarg, "raw") && strcmp(optarg, "json")) {
                fprintf(stderr, "handoff listen: --format is raw or json\n");
                return cli_usage;
            }
            job.json = !strcmp(optarg, "json");
            break;
        case opt_presence:
            job.presence = true;
            break;
        default:
            return cli_usage;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "handoff listen: unexpected argument \"%s\"\n", argv[optind]);
        return cli_usage;
    }
    if (!common->keys_file.empty())
        job.keys = &common->keys;
    hf_client_callbacks cb{};
    cb.on_message = on_message;
    cb.on_state = on_state;
    if (!cli_start(&run, cb, timeout_s))
        return cli_usage;
    int status = cli_loop(&run);
    // Without --count, running out the clock is the normal end.
    if (status == cli_timeout && !job.count)
        status = cli_ok;
    return status;
}
