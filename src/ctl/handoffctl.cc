// handoffctl: the HTTP API (docs/api.md) from a shell, for operators and
// scripts. Each command is one request; the answer is printed for people,
// or as the API's JSON with --json. See handoffctl(8).
#include <getopt.h>
#include <unistd.h>
#include <jansson.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "ctl/https.h"
#include "ctl/show.h"
#include "proto/token.h"
#include "proto/utf8.h"

namespace
{

// Exit statuses, as handoffctl(8) lists them.
enum { exit_ok = 0, exit_refused = 1, exit_usage = 2, exit_unreachable = 3 };

void usage(FILE *out)
{
    fprintf(out, "usage: handoffctl [OPTIONS] send ACCOUNT DEVICE|'*' [DATA|-] [--ttl S] [--collapse KEY]\n"
                 "                       [--id N | --idempotency-key KEY]\n"
                 "       handoffctl [OPTIONS] devices ACCOUNT\n"
                 "       handoffctl [OPTIONS] revoke|restore|disconnect ACCOUNT DEVICE\n"
                 "       handoffctl [OPTIONS] subscriptions ACCOUNT DEVICE\n"
                 "       handoffctl [OPTIONS] unsubscribe ACCOUNT DEVICE APP\n"
                 "       handoffctl [OPTIONS] wake-test ACCOUNT DEVICE\n"
                 "       handoffctl [OPTIONS] dead-letters ACCOUNT [DEVICE] [--retry | --purge]\n"
                 "       handoffctl [OPTIONS] queues ACCOUNT [--purge-never-connected]\n"
                 "       handoffctl [OPTIONS] token ACCOUNT DEVICE [--ttl DURATION] [--format jwt|hf1]\n"
                 "       handoffctl [OPTIONS] status | drain [--wait]\n"
                 "\n"
                 "OPTIONS:\n"
                 "  --url https://HOST:PORT  the server's listen.api (env HANDOFF_API_URL)\n"
                 "  --ca FILE                CA bundle that signed its certificate (env HANDOFF_CA;\n"
                 "                           default: the system's)\n"
                 "  --key-file FILE          file holding an api.keys secret (env HANDOFF_API_KEY_FILE)\n"
                 "  --json                   print the API's JSON answer as it is\n"
                 "  --timeout S              give up after S seconds (default 30)\n"
                 "\n"
                 "Exit status: 0 ok, 1 refused (the API's error), 2 usage, 3 server not reached.\n"
                 "See handoffctl(8).\n");
}

struct options {
    std::string url, ca, key_file;
    bool json = false;
    int timeout_s = 30;
    std::string ttl, collapse, id, idempotency_key;
    std::string format;                 // token
    bool retry = false, purge = false;  // dead-letters
    bool purge_never_connected = false; // queues
    bool wait = false;                  // drain: until the daemon has exited
};

std::string env_or(const char *name, const std::string &fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

bool read_secret(const std::string &path, std::string *secret)
{
    std::ifstream in(path);
    if (!in)
        return false;
    std::stringstream ss;
    ss << in.rdbuf();
    *secret = ss.str();
    while (!secret->empty() && strchr("\r\n ", secret->back()))
        secret->pop_back();
    return !secret->empty();
}

// drain --wait: asks for the status once a second, saying how many
// devices are still connected when that changes, until the daemon no
// longer answers (it exited), or for drain_wait_max_s.
const int drain_wait_max_s = 600;

int wait_for_exit(ctl_request req)
{
    req.method = "GET";
    req.path = "/v1/status";
    req.body.clear();
    req.timeout_s = 5;
    long long last = -1;
    for (int waited = 0; waited < drain_wait_max_s; waited++) {
        ctl_response res;
        if (!ctl_https(req, &res)) {
            printf("drained: the daemon has exited\n");
            return exit_ok;
        }
        json_t *status = json_loadb(res.body.data(), res.body.size(), 0, nullptr);
        long long connections = json_integer_value(json_object_get(status, "connections"));
        json_decref(status);
        if (connections != last)
            printf("draining: %lld connections left\n", connections);
        fflush(stdout);
        last = connections;
        sleep(1);
    }
    fprintf(stderr, "handoffctl: the daemon still answers after %d s of draining\n", drain_wait_max_s);
    return exit_refused;
}

// The request a command makes; false (and a message) for bad arguments.
bool build(const options &o, int argc, char **argv, ctl_request *req, std::string *err)
{
    std::string cmd = argc > 0 ? argv[0] : "";
    auto arg = [&](int i) { return std::string(i < argc ? argv[i] : ""); };
    if ((o.retry || o.purge) && cmd != "dead-letters")
        return *err = "--retry and --purge are for dead-letters", false;
    if (o.wait && cmd != "drain")
        return *err = "--wait is for drain", false;
    if (o.purge_never_connected && cmd != "queues")
        return *err = "--purge-never-connected is for queues", false;
    if (!o.idempotency_key.empty() && cmd != "send")
        return *err = "--idempotency-key is for send", false;
    if (!o.format.empty() && cmd != "token")
        return *err = "--format is for token", false;
    if (cmd == "token") {
        if (argc != 3)
            return *err = "token takes an ACCOUNT and a DEVICE", false;
        req->method = "POST";
        req->path = "/v1/accounts/" + arg(1) + "/devices/" + arg(2) + "/tokens";
        json_t *body = json_object();
        if (!o.ttl.empty())
            json_object_set_new(body, "ttl", json_string(o.ttl.c_str()));
        if (!o.format.empty())
            json_object_set_new(body, "format", json_string(o.format.c_str()));
        char *text = json_dumps(body, JSON_COMPACT);
        req->body = text;
        free(text);
        json_decref(body);
        return true;
    }
    if (cmd == "status" || cmd == "drain") {
        if (argc != 1)
            return *err = cmd + " takes no arguments", false;
        req->method = cmd == "status" ? "GET" : "POST";
        req->path = "/v1/" + cmd;
        return true;
    }
    if (cmd == "devices") {
        if (argc != 2)
            return *err = "devices takes an ACCOUNT", false;
        req->method = "GET";
        req->path = "/v1/accounts/" + arg(1) + "/devices";
        return true;
    }
    if (cmd == "queues") {
        if (argc != 2)
            return *err = "queues takes an ACCOUNT", false;
        req->method = o.purge_never_connected ? "POST" : "GET";
        req->path = "/v1/accounts/" + arg(1) + "/queues" + (o.purge_never_connected ? "/purge" : "");
        if (o.purge_never_connected)
            req->body = "{\"never_connected\": true}";
        return true;
    }
    if (cmd == "revoke" || cmd == "restore" || cmd == "disconnect") {
        if (argc != 3)
            return *err = cmd + " takes an ACCOUNT and a DEVICE", false;
        req->method = "POST";
        req->path = "/v1/accounts/" + arg(1) + "/devices/" + arg(2) + "/" + cmd;
        return true;
    }
    if (cmd == "subscriptions") {
        if (argc != 3)
            return *err = "subscriptions takes an ACCOUNT and a DEVICE", false;
        req->method = "GET";
        req->path = "/v1/accounts/" + arg(1) + "/devices/" + arg(2) + "/subscriptions";
        return true;
    }
    if (cmd == "unsubscribe") {
        if (argc != 4)
            return *err = "unsubscribe takes an ACCOUNT, a DEVICE and an APP", false;
        req->method = "POST";
        req->path = "/v1/accounts/" + arg(1) + "/devices/" + arg(2) + "/subscriptions/" + arg(3) + "/revoke";
        return true;
    }
    if (cmd == "wake-test") {
        if (argc != 3)
            return *err = "wake-test takes an ACCOUNT and a DEVICE", false;
        req->method = "POST";
        req->path = "/v1/accounts/" + arg(1) + "/devices/" + arg(2) + "/wake/test";
        return true;
    }
    if (cmd == "dead-letters") {
        if (argc < 2 || argc > 3)
            return *err = "dead-letters takes an ACCOUNT and, for one device, a DEVICE", false;
        if (o.retry && o.purge)
            return *err = "dead-letters takes --retry or --purge, not both", false;
        std::string base = "/v1/accounts/" + arg(1) + (argc == 3 ? "/devices/" + arg(2) : "") + "/dead-letters";
        req->method = o.retry || o.purge ? "POST" : "GET";
        req->path = base + (o.retry ? "/retry" : o.purge ? "/purge" : "");
        return true;
    }
    if (cmd == "send") {
        if (argc < 3 || argc > 4)
            return *err = "send takes an ACCOUNT, a DEVICE (or '*') and DATA (or - or nothing: stdin)", false;
        std::string data;
        if (argc == 4 && arg(3) != "-") {
            data = arg(3);
        } else {
            std::stringstream ss;
            ss << std::cin.rdbuf();
            data = ss.str();
        }
        req->method = "POST";
        req->path = "/v1/accounts/" + arg(1) + "/messages";
        json_t *body = json_pack("{s:s}", "to", arg(2).c_str());
        // Bytes that are not UTF-8 cannot be a JSON string: base64.
        if (hf_utf8_valid(data)) {
            json_object_set_new(body, "data", json_stringn(data.data(), data.size()));
        } else {
            std::string encoded;
            hf_base64url_encode(data, &encoded);
            json_object_set_new(body, "data_base64", json_string(encoded.c_str()));
        }
        if (!o.ttl.empty()) {
            char *end = nullptr;
            errno = 0;
            long long ttl = strtoll(o.ttl.c_str(), &end, 10);
            if (errno || end == o.ttl.c_str() || *end || ttl < 1) {
                json_decref(body);
                return *err = "--ttl takes whole seconds, at least 1, not \"" + o.ttl + "\"", false;
            }
            json_object_set_new(body, "ttl", json_integer(ttl));
        }
        if (!o.collapse.empty())
            json_object_set_new(body, "collapse", json_string(o.collapse.c_str()));
        if (!o.id.empty())
            json_object_set_new(body, "id", json_string(o.id.c_str()));
        req->idempotency_key = o.idempotency_key;
        char *text = json_dumps(body, JSON_COMPACT);
        req->body = text;
        free(text);
        json_decref(body);
        return true;
    }
    *err = cmd.empty() ? "no command" : "unknown command \"" + cmd + "\"";
    return false;
}

} // namespace

int main(int argc, char **argv)
{
    options o;
    o.url = env_or("HANDOFF_API_URL", "");
    o.ca = env_or("HANDOFF_CA", "");
    o.key_file = env_or("HANDOFF_API_KEY_FILE", "");
    static const option longopts[] = {
        {"url", required_argument, nullptr, 'u'},
        {"ca", required_argument, nullptr, 'c'},
        {"key-file", required_argument, nullptr, 'k'},
        {"json", no_argument, nullptr, 'j'},
        {"timeout", required_argument, nullptr, 't'},
        {"ttl", required_argument, nullptr, 'T'},
        {"collapse", required_argument, nullptr, 'C'},
        {"id", required_argument, nullptr, 'i'},
        {"retry", no_argument, nullptr, 'R'},
        {"purge", no_argument, nullptr, 'P'},
        {"purge-never-connected", no_argument, nullptr, 'N'},
        {"wait", no_argument, nullptr, 'W'},
        {"idempotency-key", required_argument, nullptr, 'I'},
        {"format", required_argument, nullptr, 'F'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
        switch (c) {
        case 'u':
            o.url = optarg;
            break;
        case 'c':
            o.ca = optarg;
            break;
        case 'k':
            o.key_file = optarg;
            break;
        case 'j':
            o.json = true;
            break;
        case 't':
            o.timeout_s = atoi(optarg);
            break;
        case 'T':
            o.ttl = optarg;
            break;
        case 'C':
            o.collapse = optarg;
            break;
        case 'i':
            o.id = optarg;
            break;
        case 'I':
            o.idempotency_key = optarg;
            break;
        case 'F':
            o.format = optarg;
            break;
        case 'R':
            o.retry = true;
            break;
        case 'P':
            o.purge = true;
            break;
        case 'N':
            o.purge_never_connected = true;
            break;
        case 'W':
            o.wait = true;
            break;
        case 'h':
            usage(stdout);
            return exit_ok;
        default:
            usage(stderr);
            return exit_usage;
        }
    }
    ctl_request req;
    std::string err;
    if (!build(o, argc - optind, argv + optind, &req, &err)) {
        fprintf(stderr, "handoffctl: %s\n", err.c_str());
        usage(stderr);
        return exit_usage;
    }
    if (o.url.empty() || o.key_file.empty()) {
        fprintf(stderr, "handoffctl: give --url and --key-file (or HANDOFF_API_URL and HANDOFF_API_KEY_FILE)\n");
        return exit_usage;
    }
    // The key travels in a header: never in the clear.
    if (o.url.compare(0, 8, "https://") != 0) {
        fprintf(stderr, "handoffctl: --url must be https://HOST:PORT, not \"%s\": the API key would travel in clear\n",
                o.url.c_str());
        return exit_usage;
    }
    if (!read_secret(o.key_file, &req.secret)) {
        fprintf(stderr, "handoffctl: cannot read a secret from %s: %s\n", o.key_file.c_str(), strerror(errno));
        return exit_usage;
    }
    req.url = o.url;
    req.ca_file = o.ca;
    req.timeout_s = o.timeout_s > 0 ? o.timeout_s : 30;
    ctl_response res;
    if (!ctl_https(req, &res)) {
        fprintf(stderr, "handoffctl: %s: %s\n", o.url.c_str(), res.error.c_str());
        return exit_unreachable;
    }
    json_error_t jerr;
    json_t *answer = json_loadb(res.body.data(), res.body.size(), 0, &jerr);
    if (!answer) {
        fprintf(stderr, "handoffctl: %s answered %d, not JSON: %.200s\n", o.url.c_str(), res.status, res.body.c_str());
        return exit_refused;
    }
    int code = res.status < 300 ? exit_ok : exit_refused;
    if (o.json)
        fputs(res.body.c_str(), code == exit_ok ? stdout : stderr);
    else if (code == exit_ok && !ctl_show(argv[optind], answer, stdout))
        code = exit_refused;
    else
        fprintf(stderr, "handoffctl: %d %s: %s\n", res.status, json_string_value(json_object_get(answer, "error")),
                json_string_value(json_object_get(answer, "message")));
    json_decref(answer);
    if (code == exit_ok && o.wait)
        return wait_for_exit(req);
    return code;
}
