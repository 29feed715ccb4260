#include "ctl/show.h"

#include <cinttypes>
#include <cstring>
#include <ctime>
#include <string>

namespace
{

std::string text_of(json_t *o, const char *key, const char *none = "-")
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        return std::to_string(json_integer_value(v));
    if (json_is_boolean(v))
        return json_is_true(v) ? "yes" : "no";
    return none;
}

int64_t number_of(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

// A unix-ms time as UTC, to the second; "-" for none.
std::string time_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return "-";
    time_t t = time_t(json_integer_value(v) / 1000);
    tm utc;
    gmtime_r(&t, &utc);
    char text[32];
    strftime(text, sizeof text, "%Y-%m-%d %H:%M:%SZ", &utc);
    return text;
}

void show_devices(json_t *answer, FILE *out)
{
    fprintf(out, "%-24s %-7s %-16s %-21s %-21s %8s %10s %s\n", "DEVICE", "ONLINE", "SERVER", "CONNECTED SINCE",
            "LAST SEEN", "QUEUED", "BYTES", "REVOKED");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(answer, "devices"), i, d)
    {
        fprintf(out, "%-24s %-7s %-16s %-21s %-21s %8" PRId64 " %10" PRId64 " %s\n", text_of(d, "device").c_str(),
                text_of(d, "online").c_str(), text_of(d, "server").c_str(), time_of(d, "connected_since_ms").c_str(),
                time_of(d, "last_seen_ms").c_str(), number_of(d, "queue_messages"), number_of(d, "queue_bytes"),
                text_of(d, "revoked").c_str());
    }
}

void show_subscriptions(json_t *answer, FILE *out)
{
    fprintf(out, "%-24s %-21s %-8s %s\n", "APP", "CREATED", "VAPID", "ENDPOINT");
    size_t i;
    json_t *sub;
    json_array_foreach(json_object_get(answer, "subscriptions"), i, sub)
    {
        fprintf(out, "%-24s %-21s %-8s %s\n", text_of(sub, "app").c_str(), time_of(sub, "created_ms").c_str(),
                json_is_string(json_object_get(sub, "vapid_key")) ? "yes" : "no", text_of(sub, "endpoint").c_str());
    }
}

// The list, or what a retry or a purge did.
void show_dead_letters(json_t *answer, FILE *out)
{
    std::string whose =
        text_of(answer, "account") + (json_object_get(answer, "device") ? "/" + text_of(answer, "device") : "");
    if (json_object_get(answer, "retried")) {
        fprintf(out, "%s: %" PRId64 " dead letters sent again", whose.c_str(), number_of(answer, "retried"));
        if (number_of(answer, "left") > 0)
            fprintf(out, "; %" PRId64 " left in the list (%s)", number_of(answer, "left"),
                    text_of(answer, "error").c_str());
        fputc('\n', out);
        return;
    }
    if (json_object_get(answer, "purged")) {
        fprintf(out, "%s: %" PRId64 " dead letters purged\n", whose.c_str(), number_of(answer, "purged"));
        return;
    }
    fprintf(out, "%-24s %8s %-24s %-20s %-21s %8s %s\n", "DEVICE", "SEQ", "FROM", "ID", "MOVED", "BYTES", "WHY");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(answer, "dead_letters"), i, d)
    {
        fprintf(out, "%-24s %8" PRId64 " %-24s %-20s %-21s %8" PRId64 " %s\n", text_of(d, "device").c_str(),
                number_of(d, "seq"), text_of(d, "from").c_str(), text_of(d, "id").c_str(),
                time_of(d, "dead_at_ms").c_str(), number_of(d, "size"), text_of(d, "reason").c_str());
    }
}

// An account's queues, or what a purge of them did.
void show_queues(json_t *answer, FILE *out)
{
    std::string account = text_of(answer, "account");
    size_t i;
    json_t *q;
    if (json_object_get(answer, "purged")) {
        fprintf(out, "%s: purged %" PRId64 " messages of devices that never connected\n", account.c_str(),
                number_of(answer, "messages"));
        json_array_foreach(json_object_get(answer, "purged"), i, q) fprintf(
            out, "  %s%s: %" PRId64 "\n", text_of(q, "device").c_str(),
            json_is_true(json_object_get(q, "dead_letters")) ? " (dead letters)" : "", number_of(q, "messages"));
        return;
    }
    fprintf(out, "%s: %" PRId64 " of %" PRId64 " messages, %" PRId64 " of %" PRId64 " bytes\n", account.c_str(),
            number_of(answer, "messages"), number_of(answer, "max_messages"), number_of(answer, "bytes"),
            number_of(answer, "max_bytes"));
    fprintf(out, "%-24s %10s %12s %s\n", "DEVICE", "MESSAGES", "BYTES", "");
    json_array_foreach(json_object_get(answer, "queues"), i, q)
    {
        std::string notes = json_is_true(json_object_get(q, "dead_letters")) ? "dead letters" : "";
        if (json_is_true(json_object_get(q, "never_connected")))
            notes += notes.empty() ? "never connected" : ", never connected";
        fprintf(out, "%-24s %10" PRId64 " %12" PRId64 " %s\n", text_of(q, "device").c_str(), number_of(q, "messages"),
                number_of(q, "bytes"), notes.c_str());
    }
}

// Where a device route found the device: " on SERVER", or "".
std::string where(json_t *answer)
{
    std::string server = text_of(answer, "server", "");
    return server.empty() ? "" : " on " + server;
}

} // namespace

// What each provider said to a wake-up through the device's routes;
// false unless every one was sent.
bool show_wake_trials(json_t *answer, FILE *out)
{
    fprintf(out, "%-8s %-7s %-6s %s\n", "ROUTE", "OUTCOME", "STATUS", "DETAIL");
    bool all_sent = true;
    size_t i;
    json_t *trial;
    json_array_foreach(json_object_get(answer, "trials"), i, trial)
    {
        json_t *status = json_object_get(trial, "status");
        fprintf(out, "%-8s %-7s %-6s %s\n", text_of(trial, "provider").c_str(), text_of(trial, "outcome").c_str(),
                json_is_integer(status) ? std::to_string(json_integer_value(status)).c_str() : "-",
                text_of(trial, "detail").c_str());
        all_sent = all_sent && text_of(trial, "outcome") == "sent";
    }
    return all_sent;
}

bool ctl_show(const char *command, json_t *answer, FILE *out)
{
    std::string cmd = command;
    std::string device = text_of(answer, "device");
    if (cmd == "send") {
        fprintf(out, "%s (delivered to %" PRId64 ", stored for %" PRId64 "), id %s\n",
                text_of(answer, "status").c_str(), number_of(answer, "delivered"), number_of(answer, "stored"),
                text_of(answer, "id").c_str());
    } else if (cmd == "devices") {
        show_devices(answer, out);
    } else if (cmd == "dead-letters") {
        show_dead_letters(answer, out);
    } else if (cmd == "subscriptions") {
        show_subscriptions(answer, out);
    } else if (cmd == "unsubscribe") {
        fprintf(out, "unsubscribed %s from %s: its endpoint answers 410 Gone\n", device.c_str(),
                text_of(answer, "app").c_str());
    } else if (cmd == "wake-test") {
        return show_wake_trials(answer, out);
    } else if (cmd == "queues") {
        show_queues(answer, out);
    } else if (cmd == "revoke") {
        fprintf(out, "revoked %s%s: its tokens are refused until restored; %" PRId64 " queued messages purged\n",
                device.c_str(), where(answer).c_str(), number_of(answer, "purged"));
    } else if (cmd == "restore") {
        fprintf(out, "restored %s: tokens minted from %s on work\n", device.c_str(),
                time_of(answer, "not_before_ms").c_str());
    } else if (cmd == "disconnect") {
        if (json_is_true(json_object_get(answer, "was_online")))
            fprintf(out, "disconnected %s%s; it may connect again\n", device.c_str(), where(answer).c_str());
        else
            fprintf(out, "%s was not online\n", device.c_str());
    } else if (cmd == "status") {
        json_t *store = json_object_get(answer, "store");
        fprintf(
            out,
            "server        %s (%s, handoffd %s)%s\n"
            "connections   %" PRId64 " (%" PRId64 " devices online)\n"
            "sends waiting %" PRId64 "\n"
            "store         %s, %s, %s messages queued\n",
            text_of(answer, "server_id").c_str(), text_of(answer, "role").c_str(), text_of(answer, "version").c_str(),
            json_is_true(json_object_get(answer, "draining")) ? ", draining" : "", number_of(answer, "connections"),
            number_of(answer, "online_devices"), number_of(answer, "sends_waiting"), text_of(store, "module").c_str(),
            json_is_true(json_object_get(store, "healthy")) ? "healthy" : "NOT ANSWERING",
            text_of(store, "queue_messages").c_str());
    } else if (cmd == "token") {
        fprintf(out, "%s\n", text_of(answer, "token").c_str()); // alone, for $(handoffctl token ...)
    } else if (cmd == "drain") {
        fprintf(out, json_is_true(json_object_get(answer, "already")) ? "already draining\n"
                                                                      : "draining: devices are sent elsewhere, then "
                                                                        "the daemon exits\n");
    }
    return true;
}
