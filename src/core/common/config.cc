#include "core/common/config.h"

#include <libconfig.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "core/common/log.h"
#include "proto/units.h"

namespace
{

enum class key_type { string, choice, duration, size, integer, keyring, string_list };

struct key_spec {
    const char *name;
    key_type type;
    const char *default_value;
    int64_t min, max;
    const char *choices; // for choice: "a|b|c"
    int64_t hf_config::*number;
    std::string hf_config::*text;
    const char *help;
};

constexpr int64_t day_ms = 86400000;

#define STR(name, def, member, help)                                                                                   \
    {                                                                                                                  \
        name, key_type::string, def, 0, 0, nullptr, nullptr, &hf_config::member, help                                  \
    }
#define CHOICE(name, def, choices, member, help)                                                                       \
    {                                                                                                                  \
        name, key_type::choice, def, 0, 0, choices, nullptr, &hf_config::member, help                                  \
    }
#define DUR(name, def, min, max, member, help)                                                                         \
    {                                                                                                                  \
        name, key_type::duration, def, min, max, nullptr, &hf_config::member, nullptr, help                            \
    }
#define SIZE(name, def, min, max, member, help)                                                                        \
    {                                                                                                                  \
        name, key_type::size, def, min, max, nullptr, &hf_config::member, nullptr, help                                \
    }
#define INT(name, def, min, max, member, help)                                                                         \
    {                                                                                                                  \
        name, key_type::integer, def, min, max, nullptr, &hf_config::member, nullptr, help                             \
    }

const key_spec key_specs[] = {
    {"role", key_type::choice, "standalone", 0, 0, "standalone|server|allocator", nullptr, nullptr,
     "standalone: allocator and server in one process; server: connection server that registers with "
     "allocators; allocator: answers devices with registered servers"},
    STR("server_id", "", server_id, "name of this server in logs and frames (default: host name)"),
    STR("modules.dir", "", module_dir,
        "where modules are loaded from (default: $HANDOFF_MODULE_DIR, else the installed module directory)"),
    STR("listen.device", "127.0.0.1:7401", listen_device, "TLS listener for devices, host:port"),
    STR("listen.allocator", "127.0.0.1:7400", listen_allocator, "TLS listener for address requests, host:port"),
    STR("listen.websocket", "", listen_websocket,
        "TLS listener for browsers (WebSocket), host:port; \"\" turns it off"),
    STR("websocket.path", "/handoff", websocket_path, "the path of the WebSocket endpoint"),
    {"websocket.origins", key_type::string_list, "", 0, 0, nullptr, nullptr, nullptr,
     "web pages allowed to connect: [ \"https://app.example.org\", ... ], or [ \"*\" ] for any; a request "
     "without Origin (not a browser) is always allowed"},
    STR("websocket.advertise", "", websocket_advertise,
        "the URL browsers are given for this server (default: wss://listen.websocket + websocket.path)"),
    STR("websocket.allocate_path", "/allocate", websocket_allocate_path,
        "the path where browsers get server URLs over HTTPS (roles standalone and allocator)"),
    SIZE("websocket.max_request", "8k", 1024, 65536, websocket_max_request,
         "largest WebSocket opening request (request line and headers)"),
    STR("advertise", "", advertise, "device address handed out by the allocator (default: listen.device)"),
    STR("tls.certificate", "", tls_certificate, "PEM certificate chain of the listeners (required)"),
    STR("tls.key", "", tls_key, "PEM private key matching tls.certificate (required)"),
    CHOICE("tls.min_version", "1.2", "1.2|1.3", tls_min_version, "lowest TLS version accepted"),
    STR("tls.ciphers", "ECDHE+AESGCM:ECDHE+CHACHA20", tls_ciphers,
        "OpenSSL cipher list for TLS 1.2; the default is forward-secret AEAD suites only (no CBC: LUCKY13)"),
    STR("tls.ciphersuites", "", tls_ciphersuites, "OpenSSL ciphersuites for TLS 1.3 (default: OpenSSL's)"),
    STR("tls.ticket_key_file", "", tls_ticket_key_file,
        "file of 80 or more secret bytes that every server of a cluster shares, so a device resumes its TLS session "
        "on any of them (default: a random key per process)"),
    {"tokens.keys", key_type::keyring, "", 0, 0, nullptr, nullptr, nullptr,
     "list of { id = \"k1\"; secret_file = \"token.secret\"; }: secrets that sign device tokens (required)"},
    DUR("tokens.clock_skew", "60s", 0, 3600000, token_clock_skew_ms, "how far past expiry a token is still accepted"),
    SIZE("limits.max_frame", "256k", 1024, 16 << 20, max_frame, "largest frame body accepted or sent"),
    INT("limits.max_fields", "64", 8, 4096, max_fields, "most fields in one frame"),
    DUR("limits.handshake_timeout", "10s", 100, 300000, handshake_timeout_ms, "time allowed for the TLS handshake"),
    DUR("limits.hello_timeout", "10s", 100, 300000, hello_timeout_ms,
        "time allowed between the handshake and HELLO (or ALLOC_REQ)"),
    DUR("limits.max_ttl", "28d", 1000, 365 * day_ms, max_ttl_ms, "longest ttl a SEND may ask for"),
    INT("limits.queue_max_messages", "10000", 1, 100000000, queue_max_messages,
        "most messages waiting for one device; more are rejected with queue_full"),
    SIZE("limits.queue_max_bytes", "64m", 1024, int64_t(1) << 40, queue_max_bytes,
         "most payload bytes waiting for one device; more are rejected with queue_full"),
    INT("limits.max_connections", "50000", 1, 10000000, max_connections,
        "most open connections in all; more are closed at once"),
    INT("limits.max_connections_per_address", "1000", 1, 10000000, max_connections_per_address,
        "most open connections from one source address"),
    INT("limits.frame_rate", "2000", 1, 10000000, frame_rate,
        "frames a second one connection may send on average; beyond the burst: ERROR rate_limited and a close"),
    INT("limits.frame_burst", "4000", 1, 10000000, frame_burst, "frames one connection may send at once"),
    INT("limits.send_rate", "500", 1, 10000000, send_rate,
        "SENDs a second one device may make on average; beyond the burst: rejected rate_limited"),
    INT("limits.send_burst", "1000", 1, 10000000, send_burst, "SENDs one device may make at once"),
    INT("limits.max_devices_per_account", "100", 1, 1000000, max_devices_per_account,
        "most devices of one account online at once on this server"),
    DUR("log.limit_interval", "10s", 0, 3600000, limit_log_interval_ms,
        "a limit being reached is logged at most this often (with the count)"),
    INT("delivery.window", "64", 1, 65535, window, "most DELIVERs a device may leave unacknowledged"),
    DUR("delivery.default_ttl", "7d", 1000, 365 * day_ms, default_ttl_ms, "ttl of a SEND that gives none"),
    DUR("delivery.ack_wait", "2s", 0, 60000, ack_wait_ms,
        "how long SEND_ACK waits for an online target's acknowledgement before answering stored"),
    DUR("delivery.ack_batch", "1ms", 0, 1000, ack_batch_ms,
        "SEND_ACKs that targets' acknowledgements settle are gathered this long and sent together (0: at once)"),
    DUR("delivery.dedup_window", "1h", 1000, 7 * day_ms, dedup_window_ms,
        "how long a sender's recent ids to one target are remembered after its last message, to drop resends"),
    INT("delivery.dedup_ids", "1024", 64, 16384, dedup_ids,
        "how many of a sender's newest ids to one target are told apart from resends (rounded up to a power of "
        "two; the store keeps one bit each per sender and target)"),
    DUR("delivery.store_retry", "1s", 10, 600000, store_retry_ms,
        "retry_ms in a SEND_ACK rejected store_full or store_unavailable: when the sender should try again"),
    INT("delivery.max_attempts", "5", 1, 1000, max_attempts,
        "a message whose device closes its connection (or is closed) this many times in a row with it the oldest "
        "unacknowledged is set aside: acknowledged on the device's behalf, logged and counted, so the rest of its "
        "queue flows"),
    CHOICE("delivery.unknown_devices", "store", "store|reject", unknown_devices,
           "a SEND to a device of the account that has never connected: store (it waits for the device's first "
           "connection, until its ttl) or reject (SEND_ACK unknown_device: a typo makes no silent queue)"),
    DUR("delivery.expire_interval", "60s", 1000, day_ms, expire_interval_ms,
        "how often expired messages are swept from the store"),
    DUR("allocator.backoff_base", "1s", 10, 3600000, backoff_base_ms, "reconnect backoff base hinted to clients"),
    DUR("allocator.backoff_cap", "60s", 10, 3600000, backoff_cap_ms, "reconnect backoff cap hinted to clients"),
    STR("cluster.key_file", "", cluster_key_file,
        "file holding the key servers present to allocators (required for roles server and allocator)"),
    {"register.allocators", key_type::string_list, "", 0, 0, nullptr, nullptr, nullptr,
     "allocators a server registers with: [ \"host:port\", ... ] (required for role server)"},
    STR("register.ca", "", register_ca, "CA bundle that signed the allocators' certificates (default: the system's)"),
    INT("register.weight", "100", 1, 1000000, register_weight, "this server's capacity relative to the others"),
    INT("allocator.answer_count", "3", 1, 16, answer_count, "most server addresses in one answer"),
    DUR("allocator.refresh_interval", "2s", 100, 60000, refresh_interval_ms,
        "how often servers refresh their registration; one missed by half an interval more lapses"),
    DUR("cluster.presence_ttl", "60s", 1000, 3600000, presence_ttl_ms,
        "how long a device's presence (which server holds it) lives in a shared store unless refreshed; "
        "refreshed every third of it"),
    DUR("drain.timeout", "10s", 0, 600000, drain_timeout_ms,
        "on SIGTERM, how long to wait for devices to move and in-flight acknowledgements to arrive"),
    STR("metrics.listen", "127.0.0.1:7480", metrics_listen,
        "HTTP listener for /metrics (Prometheus) and /healthz; \"\" turns it off"),
    CHOICE("log.level", "info", "error|warning|info|debug", log_level, "least severe level logged"),
    CHOICE("log.target", "stderr", "stderr|syslog", log_target, "where log lines go"),
    STR("log.facility", "daemon", log_facility, "syslog facility: daemon, user, local0..local7"),
    {"store.module", key_type::string, "memory", 0, 0, nullptr, nullptr, nullptr,
     "store module (loads store_NAME.so); its own keys go in the same group"},
    {"heartbeat.module", key_type::string, "fixed", 0, 0, nullptr, nullptr, nullptr,
     "heartbeat policy module (loads hb_NAME.so); its own keys go in the same group"},
};

#undef STR
#undef CHOICE
#undef DUR
#undef SIZE
#undef INT

const char *type_name(key_type t)
{
    switch (t) {
    case key_type::string:
        return "string";
    case key_type::choice:
        return "choice";
    case key_type::duration:
        return "duration";
    case key_type::size:
        return "size";
    case key_type::integer:
        return "integer";
    case key_type::keyring:
        return "list";
    case key_type::string_list:
        return "list of strings";
    }
    return "?";
}

struct parse_ctx {
    hf_config *cfg;
    std::string file;
    std::string dir; // relative paths resolve against the config's folder
    std::string *err;
    std::map<std::string, int> key_lines; // where each key was given
};

int line_of(const parse_ctx *ctx, const char *key)
{
    auto it = ctx->key_lines.find(key);
    return it == ctx->key_lines.end() ? 1 : it->second;
}

bool fail(parse_ctx *ctx, int line, const std::string &message)
{
    *ctx->err = ctx->file + ":" + std::to_string(line) + ": " + message;
    return false;
}

std::string setting_path(const config_setting_t *s)
{
    std::string path;
    for (; s && config_setting_name(s); s = config_setting_parent(s))
        path = path.empty() ? config_setting_name(s) : std::string(config_setting_name(s)) + "." + path;
    return path;
}

std::string resolve_path(const parse_ctx *ctx, const std::string &p)
{
    if (p.empty() || p[0] == '/')
        return p;
    return ctx->dir + "/" + p;
}

// A scalar's value as text, for the shared value parser.
bool scalar_text(const config_setting_t *s, std::string *text, bool *is_string)
{
    *is_string = false;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING:
        *text = config_setting_get_string(s);
        *is_string = true;
        return true;
    case CONFIG_TYPE_INT:
        *text = std::to_string(config_setting_get_int(s));
        return true;
    case CONFIG_TYPE_INT64:
        *text = std::to_string(config_setting_get_int64(s));
        return true;
    case CONFIG_TYPE_BOOL:
        *text = config_setting_get_bool(s) ? "true" : "false";
        return true;
    default:
        return false;
    }
}

bool parse_integer(const std::string &text, int64_t *out)
{
    if (text.empty())
        return false;
    char *end = nullptr;
    errno = 0;
    long long v = strtoll(text.c_str(), &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

// Shared by the daemon's table and modules' tables: text -> number, with
// the message for a bad value.
bool parse_number(int type, const std::string &text, bool is_string, int64_t min, int64_t max, int64_t *out,
                  std::string *why)
{
    bool ok = false;
    const char *what = "";
    switch (type) {
    case HF_SETTING_DURATION:
        what = "a duration with a unit, like \"250ms\", \"30s\", \"5m\", \"2h\" or \"7d\"";
        ok = is_string && hf_parse_duration(text.c_str(), out);
        break;
    case HF_SETTING_SIZE:
        what = "a size in bytes, or with a unit, like \"64k\", \"16m\" or \"1g\"";
        ok = hf_parse_size(text.c_str(), out);
        break;
    case HF_SETTING_INT:
        what = "an integer";
        ok = !is_string && parse_integer(text, out);
        break;
    case HF_SETTING_BOOL:
        what = "true or false";
        ok = !is_string && (text == "true" || text == "false");
        *out = text == "true";
        return ok || (*why = std::string("expected ") + what, false);
    }
    if (!ok) {
        *why = std::string("expected ") + what + ", got " + (is_string ? "\"" + text + "\"" : text);
        return false;
    }
    if (*out < min || *out > max) {
        *why = "value " + text + " out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]" +
               (type == HF_SETTING_DURATION ? " ms" : "");
        return false;
    }
    return true;
}

int setting_type_of(key_type t)
{
    switch (t) {
    case key_type::duration:
        return HF_SETTING_DURATION;
    case key_type::size:
        return HF_SETTING_SIZE;
    case key_type::integer:
        return HF_SETTING_INT;
    default:
        return HF_SETTING_STRING;
    }
}

bool choice_allowed(const char *choices, const std::string &v)
{
    std::string all = std::string("|") + choices + "|";
    return !v.empty() && v.find('|') == std::string::npos && all.find("|" + v + "|") != std::string::npos;
}

// Applies one table row to the config from text (the file's, or the default).
bool apply_key(parse_ctx *ctx, const key_spec &spec, const std::string &text, bool is_string, int line)
{
    hf_config *cfg = ctx->cfg;
    std::string why;
    switch (spec.type) {
    case key_type::keyring:
    case key_type::string_list:
        return true;
    case key_type::string:
    case key_type::choice:
        if (!is_string)
            return fail(ctx, line, std::string(spec.name) + ": expected a string in double quotes");
        if (spec.type == key_type::choice && !choice_allowed(spec.choices, text))
            return fail(ctx, line, std::string(spec.name) + ": \"" + text + "\" is not one of " + spec.choices);
        if (!strcmp(spec.name, "role"))
            cfg->role = text == "server"      ? hf_role::server
                        : text == "allocator" ? hf_role::allocator
                                              : hf_role::standalone;
        else if (!strcmp(spec.name, "store.module"))
            cfg->store.module = text;
        else if (!strcmp(spec.name, "heartbeat.module"))
            cfg->heartbeat.module = text;
        else
            cfg->*spec.text = text;
        return true;
    default:
        if (!parse_number(setting_type_of(spec.type), text, is_string, spec.min, spec.max, &(cfg->*spec.number), &why))
            return fail(ctx, line, std::string(spec.name) + ": " + why);
        return true;
    }
}

// Reads a secret (token secret, cluster key): trailing whitespace is not
// part of it, and it must be long enough not to be guessed.
bool read_secret_file(parse_ctx *ctx, const char *key, const std::string &path, int line, std::string *secret)
{
    std::ifstream in(path);
    if (!in)
        return fail(ctx, line, std::string(key) + ": cannot read " + path + ": " + strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    *secret = ss.str();
    while (!secret->empty() && (secret->back() == '\n' || secret->back() == '\r' || secret->back() == ' '))
        secret->pop_back();
    if (secret->size() < 16)
        return fail(ctx, line,
                    std::string(key) + ": the secret in " + path +
                        " is shorter than 16 bytes; make a longer one (e.g. openssl rand -hex 32)");
    return true;
}

// The config's lists of strings, by key.
std::vector<std::string> hf_config::*string_list_member(const std::string &path)
{
    if (path == "register.allocators")
        return &hf_config::register_allocators;
    if (path == "websocket.origins")
        return &hf_config::websocket_origins;
    return nullptr;
}

bool parse_string_list(parse_ctx *ctx, const char *name, const config_setting_t *list, std::vector<std::string> *out)
{
    int line = config_setting_source_line(list);
    if (!config_setting_is_list(list) && !config_setting_is_array(list))
        return fail(ctx, line, std::string(name) + ": expected a list: [ \"host:port\", ... ]");
    out->clear();
    for (int i = 0; i < config_setting_length(list); i++) {
        const char *item = config_setting_get_string_elem(list, i);
        if (!item || !*item)
            return fail(ctx, line, std::string(name) + ": every entry must be a non-empty string");
        out->push_back(item);
    }
    return true;
}

bool parse_keyring(parse_ctx *ctx, const config_setting_t *list)
{
    int line = config_setting_source_line(list);
    if (!config_setting_is_list(list) && !config_setting_is_array(list))
        return fail(ctx, line, "tokens.keys: expected a list: ( { id = \"k1\"; secret_file = \"...\"; } )");
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *entry = config_setting_get_elem(list, unsigned(i));
        int eline = config_setting_source_line(entry);
        const char *id = nullptr, *file = nullptr;
        if (!config_setting_is_group(entry) || !config_setting_lookup_string(entry, "id", &id) ||
            !config_setting_lookup_string(entry, "secret_file", &file) || config_setting_length(entry) != 2)
            return fail(ctx, eline, "tokens.keys: each entry is { id = \"k1\"; secret_file = \"path\"; }");
        for (const hf_token_key &k : ctx->cfg->token_keys)
            if (k.id == id)
                return fail(ctx, eline, std::string("tokens.keys: key id \"") + id + "\" given twice");
        hf_token_key key;
        key.id = id;
        if (!read_secret_file(ctx, "tokens.keys", resolve_path(ctx, file), eline, &key.secret))
            return false;
        ctx->cfg->token_keys.push_back(std::move(key));
    }
    return true;
}

const key_spec *find_key(const std::string &path)
{
    for (const key_spec &spec : key_specs)
        if (path == spec.name)
            return &spec;
    return nullptr;
}

bool is_module_group(const std::string &path, hf_module_settings **group, hf_config *cfg)
{
    if (path.rfind("store.", 0) == 0 && path != "store.module") {
        *group = &cfg->store;
        return true;
    }
    if (path.rfind("heartbeat.", 0) == 0 && path != "heartbeat.module") {
        *group = &cfg->heartbeat;
        return true;
    }
    return false;
}

// Walks every setting in the file: known keys are applied, module keys
// kept for later, anything else is an error (a typo must not pass quietly).
bool walk(parse_ctx *ctx, const config_setting_t *group, std::vector<const key_spec *> *seen)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, unsigned(i));
        std::string path = setting_path(s);
        int line = config_setting_source_line(s);
        ctx->key_lines[path] = line;
        if (path == "tokens.keys") {
            if (!parse_keyring(ctx, s))
                return false;
            seen->push_back(find_key(path));
            continue;
        }
        if (std::vector<std::string> hf_config::*list = string_list_member(path)) {
            if (!parse_string_list(ctx, path.c_str(), s, &(ctx->cfg->*list)))
                return false;
            seen->push_back(find_key(path));
            continue;
        }
        if (config_setting_is_group(s)) {
            if (!walk(ctx, s, seen))
                return false;
            continue;
        }
        std::string text;
        bool is_string;
        if (!scalar_text(s, &text, &is_string))
            return fail(ctx, line, path + ": expected a single value");
        hf_module_settings *module_group;
        if (is_module_group(path, &module_group, ctx->cfg)) {
            module_group->raw.push_back(hf_raw_setting{config_setting_name(s), text, is_string, line});
            continue;
        }
        const key_spec *spec = find_key(path);
        if (!spec)
            return fail(ctx, line, "unknown key \"" + path + "\" (see handoffd.conf(5))");
        if (!apply_key(ctx, *spec, text, is_string, line))
            return false;
        seen->push_back(spec);
    }
    return true;
}

bool check_whole(parse_ctx *ctx)
{
    hf_config *cfg = ctx->cfg;
    if (cfg->tls_certificate.empty() || cfg->tls_key.empty())
        return fail(ctx, line_of(ctx, "tls"), "tls.certificate and tls.key are required");
    cfg->tls_certificate = resolve_path(ctx, cfg->tls_certificate);
    cfg->tls_key = resolve_path(ctx, cfg->tls_key);
    if (cfg->token_keys.empty())
        return fail(ctx, line_of(ctx, "tokens"),
                    "tokens.keys is required: ( { id = \"k1\"; secret_file = \"token.secret\"; } )");
    if (cfg->backoff_cap_ms < cfg->backoff_base_ms)
        return fail(ctx, line_of(ctx, "allocator.backoff_cap"),
                    "allocator.backoff_cap must not be below allocator.backoff_base");
    if (cfg->default_ttl_ms > cfg->max_ttl_ms)
        return fail(ctx,
                    line_of(ctx, "delivery.default_ttl") > 1 ? line_of(ctx, "delivery.default_ttl")
                                                             : line_of(ctx, "limits.max_ttl"),
                    "delivery.default_ttl must not exceed limits.max_ttl");
    if (hf_log_facility_from_name(cfg->log_facility.c_str()) < 0)
        return fail(ctx, line_of(ctx, "log.facility"),
                    "log.facility: \"" + cfg->log_facility + "\" is not daemon, user or local0..local7");
    if (cfg->role != hf_role::standalone) {
        if (cfg->cluster_key_file.empty())
            return fail(ctx, line_of(ctx, "role"),
                        "roles server and allocator need cluster.key_file: the key servers register with");
        if (!read_secret_file(ctx, "cluster.key_file", resolve_path(ctx, cfg->cluster_key_file),
                              line_of(ctx, "cluster.key_file"), &cfg->cluster_key))
            return false;
    }
    if (cfg->role == hf_role::server && cfg->register_allocators.empty())
        return fail(ctx, line_of(ctx, "role"),
                    "role server needs register.allocators = [ \"host:port\", ... ]: where to register");
    if (!cfg->register_ca.empty())
        cfg->register_ca = resolve_path(ctx, cfg->register_ca);
    if (cfg->advertise.empty())
        cfg->advertise = cfg->listen_device;
    if (cfg->websocket_advertise.empty() && !cfg->listen_websocket.empty())
        cfg->websocket_advertise = "wss://" + cfg->listen_websocket + cfg->websocket_path;
    if (cfg->server_id.empty()) {
        char host[256] = "handoffd";
        gethostname(host, sizeof host - 1);
        cfg->server_id = host;
    }
    if (cfg->module_dir.empty()) {
        const char *env = getenv("HANDOFF_MODULE_DIR");
        cfg->module_dir = env && *env ? env : HF_MODULE_DIR;
    }
    return true;
}

} // namespace

bool hf_config_load(const char *path, hf_config *cfg, std::string *err)
{
    *cfg = hf_config{};
    cfg->path = path;
    parse_ctx ctx{cfg, path, ".", err, {}};
    const char *slash = strrchr(path, '/');
    if (slash)
        ctx.dir = std::string(path, size_t(slash - path));
    if (ctx.dir.empty())
        ctx.dir = "/";

    // Defaults first, through the same code as the file's values.
    for (const key_spec &spec : key_specs) {
        if (spec.type == key_type::keyring)
            continue;
        bool is_string = spec.type != key_type::integer;
        if (!apply_key(&ctx, spec, spec.default_value, is_string, 0))
            return false;
    }

    FILE *f = fopen(path, "r");
    if (!f) {
        *err = std::string(path) + ": cannot open: " + strerror(errno);
        return false;
    }
    std::unique_ptr<config_t, void (*)(config_t *)> conf(new config_t, [](config_t *c) {
        config_destroy(c);
        delete c;
    });
    config_init(conf.get());
    config_set_include_dir(conf.get(), ctx.dir.c_str());
    int ok = config_read(conf.get(), f);
    fclose(f);
    if (!ok) {
        const char *efile = config_error_file(conf.get());
        *err = std::string(efile ? efile : path) + ":" + std::to_string(config_error_line(conf.get())) + ": " +
               config_error_text(conf.get());
        return false;
    }
    std::vector<const key_spec *> seen;
    if (!walk(&ctx, config_root_setting(conf.get()), &seen))
        return false;
    return check_whole(&ctx);
}

bool hf_config_apply_module_settings(hf_config *cfg, hf_module_settings *group, const hf_module_info *info,
                                     std::vector<hf_setting_value> *values, std::string *err)
{
    values->assign(info->setting_count, hf_setting_value{0, nullptr});
    std::vector<bool> given(info->setting_count, false);
    const char *group_name = info->kind == HF_MODULE_STORE ? "store" : "heartbeat";
    auto where = [&](int line) { return cfg->path + ":" + std::to_string(line) + ": " + group_name + "."; };
    for (const hf_raw_setting &raw : group->raw) {
        size_t i = 0;
        while (i < info->setting_count && raw.name != info->settings[i].name)
            i++;
        if (i == info->setting_count) {
            *err =
                where(raw.line) + raw.name + ": module \"" + info->name + "\" has no such key (see handoffd.conf(5))";
            return false;
        }
        given[i] = true;
    }
    for (size_t i = 0; i < info->setting_count; i++) {
        const hf_setting_spec &spec = info->settings[i];
        std::string text = spec.default_value;
        bool is_string = spec.type != HF_SETTING_INT && spec.type != HF_SETTING_BOOL;
        int line = 0;
        for (const hf_raw_setting &raw : group->raw)
            if (given[i] && raw.name == spec.name)
                text = raw.text, is_string = raw.is_string, line = raw.line;
        if (spec.type == HF_SETTING_STRING) {
            if (!is_string) {
                *err = where(line) + spec.name + ": expected a string in double quotes";
                return false;
            }
            cfg->module_strings.push_back(text);
            (*values)[i].string = cfg->module_strings.back().c_str();
            continue;
        }
        std::string why;
        if (!parse_number(spec.type, text, is_string, spec.min, spec.max, &(*values)[i].number, &why)) {
            *err = where(line) + spec.name + ": " + why;
            return false;
        }
    }
    return true;
}

namespace
{

// The store's quotas are handed to it once, at open.
bool reloadable(const key_spec &spec)
{
    static const char *const extra[] = {"tokens.clock_skew", "delivery.default_ttl",
                                        "delivery.ack_wait", "delivery.ack_batch",
                                        "log.level",         "log.limit_interval"};
    std::string name = spec.name;
    if (name.rfind("limits.", 0) == 0)
        return name.rfind("limits.queue_max_", 0) != 0;
    for (const char *key : extra)
        if (name == key)
            return true;
    return false;
}

} // namespace

void hf_config_apply_reload(const hf_config &fresh, hf_config *running)
{
    running->token_keys = fresh.token_keys;
    for (const key_spec &spec : key_specs) {
        if (!reloadable(spec))
            continue;
        if (spec.number)
            running->*spec.number = fresh.*spec.number;
        else if (spec.text)
            running->*spec.text = fresh.*spec.text;
    }
}

std::vector<hf_config_key_doc> hf_config_key_docs(void)
{
    std::vector<hf_config_key_doc> docs;
    for (const key_spec &spec : key_specs)
        docs.push_back(hf_config_key_doc{spec.name, spec.type == key_type::choice ? spec.choices : type_name(spec.type),
                                         spec.default_value, spec.help});
    return docs;
}
