// handoff listen: prints each message, then acknowledges it; with
// --presence, the account's devices coming and going too.
#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/cli.h"
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
    bool keys = false; // --keys: pushes and end-to-end messages are opened
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

// What the client (or this) refused on arrival: it did not open.
void on_refused(void *, const char *from, uint64_t id, const char *why)
{
    fprintf(stderr, "handoff listen: %s %s (id %llu): %s; refused\n",
            from[0] == '+' ? "a push for app" : "a message from", from[0] == '+' ? from + 1 : from,
            (unsigned long long)id, why);
}

// Prints and acknowledges msg. With --keys, the client opened it
// (hf_client_use_keys), or refused what does not open; a push for an app
// the key file has no keys for is refused here: it will not open later
// either.
void on_message(void *user, const hf_client_message *msg)
{
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<listen_job>(user);
    if (run->done || run->flushing)
        return; // past --count: left for the next listener
    if (job->keys && msg->app && !msg->opened) {
        std::string why = std::string("the key file has no keys for app \"") + msg->app + "\"";
        on_refused(user, msg->from, msg->id, why.c_str());
        hf_client_refuse(run->client, msg->seq, HF_ERR_BAD_FIELD, why.c_str());
        return;
    }
    print_message(job, msg, std::string_view(reinterpret_cast<const char *>(msg->payload), msg->payload_len));
    fflush(stdout);
    hf_client_ack(run->client, msg->seq);
    if (job->count && ++job->received == job->count)
        cli_finish_after_flush(run, cli_ok);
}

// "presence DEVICE online|offline" (raw), or {"presence":...} (json); the
// end of an answer prints nothing.
void on_presence(void *user, const char *device, int online, int complete)
{
    if (complete)
        return;
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
    auto *run = static_cast<cli_run *>(user);
    auto *job = cli_job<listen_job>(user);
    if (!cli_first_connected(user, state, detail, &job->presence_asked) || !job->presence)
        return;
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
    job.keys = !common->keys_file.empty();
    hf_client_callbacks cb{};
    cb.on_message = on_message;
    cb.on_state = on_state;
    if (!cli_start(&run, cb, timeout_s))
        return cli_usage;
    hf_client_on_refused(run.client, on_refused);
    int status = cli_loop(&run);
    // Without --count, running out the clock is the normal end.
    if (status == cli_timeout && !job.count)
        status = cli_ok;
    return status;
}
