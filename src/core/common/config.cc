#include "core/common/config.h"

#include <libconfig.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "core/common/config_keys.h"
#include "core/common/log.h"
#include "proto/token.h"
#include "proto/units.h"

bool hf_address_is_wildcard(const std::string &address)
{
    size_t colon = address.rfind(':');
    if (address.empty() || colon == std::string::npos)
        return false;
    std::string host = address.substr(0, colon);
    return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]" || host == "*";
}

std::string hf_address_port(const std::string &address)
{
    size_t colon = address.rfind(':');
    return colon == std::string::npos ? "" : address.substr(colon + 1);
}

const char *hf_role_name(hf_role role)
{
    static const char *const names[] = {"standalone", "server", "allocator"};
    return names[int(role)];
}

bool hf_store_is_shared(const hf_config &cfg)
{
    return cfg.store_traits & HF_STORE_SHARED;
}

bool hf_store_per_worker(const hf_config &cfg)
{
    return cfg.role != hf_role::allocator && (cfg.store_traits & HF_STORE_FOLDERS);
}

namespace
{

const char *type_name(hf_key_type t)
{
    switch (t) {
    case hf_key_type::string:
        return "string";
    case hf_key_type::choice:
        return "choice";
    case hf_key_type::duration:
        return "duration";
    case hf_key_type::size:
        return "size";
    case hf_key_type::integer:
        return "integer";
    case hf_key_type::keyring:
        return "list";
    case hf_key_type::string_list:
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

int setting_type_of(hf_key_type t)
{
    switch (t) {
    case hf_key_type::duration:
        return HF_SETTING_DURATION;
    case hf_key_type::size:
        return HF_SETTING_SIZE;
    case hf_key_type::integer:
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
bool apply_key(parse_ctx *ctx, const hf_key_spec &spec, const std::string &text, bool is_string, int line)
{
    hf_config *cfg = ctx->cfg;
    std::string why;
    switch (spec.type) {
    case hf_key_type::keyring:
    case hf_key_type::string_list:
        return true;
    case hf_key_type::string:
    case hf_key_type::choice:
        if (!is_string)
            return fail(ctx, line, std::string(spec.name) + ": expected a string in double quotes");
        if (spec.type == hf_key_type::choice && !choice_allowed(spec.choices, text))
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
    if (path == "wake.allow_endpoints")
        return &hf_config::wake_allow_endpoints;
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

// An api.keys entry's accounts: a list of names, each perhaps ending in
// "*" (a prefix).
bool parse_account_patterns(parse_ctx *ctx, const std::string &name, const config_setting_t *list,
                            std::vector<std::string> *out)
{
    int line = config_setting_source_line(list);
    if (!config_setting_is_array(list) && !config_setting_is_list(list))
        return fail(ctx, line, name + ": accounts is a list: [ \"alice\", \"team-*\" ]");
    for (int i = 0; i < config_setting_length(list); i++) {
        const char *pattern = config_setting_get_string_elem(list, i);
        std::string prefix = pattern ? pattern : "";
        if (!prefix.empty() && prefix.back() == '*')
            prefix.pop_back();
        if (!pattern || (!hf_name_valid(prefix) && !(prefix.empty() && std::string(pattern) == "*")))
            return fail(ctx, line,
                        name + ": accounts: \"" + (pattern ? pattern : "") +
                            "\" is not an account name, or a name's start and \"*\"");
        out->push_back(pattern);
    }
    if (out->empty())
        return fail(ctx, line, name + ": accounts is empty: leave it out for every account");
    return true;
}

// tokens.keys and cluster.servers (id, secret_file), and api.keys (the
// same and a scope): the keys are read into cfg->token_keys,
// cfg->cluster_servers or cfg->api_keys.
bool parse_keyring(parse_ctx *ctx, const std::string &name, const config_setting_t *list)
{
    bool scoped = name == "api.keys";
    bool servers = name == "cluster.servers";
    bool tokens = !scoped && !servers;
    const char *form = scoped    ? "{ id = \"backend\"; secret_file = \"api.secret\"; scope = \"send\"; accounts = [ "
                                   "\"alice\", \"team-*\" ]; } (accounts optional)"
                       : servers ? "{ id = \"s1\"; secret_file = \"s1.key\"; weight = 100; } (weight optional)"
                                 : "{ id = \"k1\"; secret_file = \"token.secret\"; } or { id = \"web\"; algorithm = "
                                   "\"ES256\"; public_key_file = \"web.pem\"; } (algorithm HS256, ES256, EdDSA or "
                                   "RS256; jwks_file in place of "
                                   "public_key_file for a JSON Web Key Set)";
    int line = config_setting_source_line(list);
    if (!config_setting_is_list(list) && !config_setting_is_array(list))
        return fail(ctx, line, name + ": expected a list: ( " + form + " )");
    std::vector<std::string> ids;
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *entry = config_setting_get_elem(list, unsigned(i));
        int eline = config_setting_source_line(entry);
        const char *id = nullptr, *file = nullptr, *scope = nullptr, *algorithm = "HS256", *public_file = nullptr;
        long long weight = 100;
        bool weighted = servers && config_setting_get_member(entry, "weight");
        bool named_alg = tokens && config_setting_get_member(entry, "algorithm");
        const config_setting_t *accounts = scoped ? config_setting_get_member(entry, "accounts") : nullptr;
        bool is_group = config_setting_is_group(entry);
        bool has_secret = is_group && config_setting_lookup_string(entry, "secret_file", &file);
        bool has_public = is_group && tokens && config_setting_lookup_string(entry, "public_key_file", &public_file);
        const char *jwks_file = nullptr;
        bool has_jwks = is_group && tokens && config_setting_lookup_string(entry, "jwks_file", &jwks_file);
        hf_jwt_alg alg = hf_jwt_alg::hs256;
        if (!is_group || !config_setting_lookup_string(entry, "id", &id) || has_secret + has_public + has_jwks != 1 ||
            (scoped && !config_setting_lookup_string(entry, "scope", &scope)) ||
            (weighted && !config_setting_lookup_int64(entry, "weight", &weight)) ||
            (named_alg && !config_setting_lookup_string(entry, "algorithm", &algorithm)) ||
            config_setting_length(entry) != 2 + (scoped || weighted) + named_alg + (accounts != nullptr))
            return fail(ctx, eline, name + ": each entry is " + form);
        std::vector<std::string> account_patterns;
        if (accounts && !parse_account_patterns(ctx, name, accounts, &account_patterns))
            return false;
        if (!hf_jwt_alg_from_name(algorithm, &alg))
            return fail(ctx, eline, name + ": algorithm \"" + algorithm + "\" is not HS256, ES256, EdDSA or RS256");
        if (has_secret != (alg == hf_jwt_alg::hs256))
            return fail(ctx, eline,
                        name + ": " + algorithm + " takes a " +
                            (has_secret ? "public_key_file or a jwks_file" : "secret_file"));
        if (weight < 1 || weight > 1000000)
            return fail(ctx, eline,
                        name + ": weight " + std::to_string(weight) + " of \"" + id + "\" is not 1 to 1000000");
        unsigned scope_bits = 0;
        if (scoped)
            for (auto [word, bits] : {std::pair{"send", hf_scope_send}, std::pair{"tokens", hf_scope_tokens},
                                      std::pair{"admin", hf_scope_admin}})
                if (!strcmp(scope, word))
                    scope_bits = bits;
        if (scoped && !scope_bits)
            return fail(ctx, eline, name + ": scope \"" + scope + "\" is not \"send\", \"tokens\" or \"admin\"");
        // An API key's messages come from "@<id>", a name too.
        if (!hf_name_valid(scoped ? std::string("@") + id : std::string(id)))
            return fail(ctx, eline,
                        name + ": key id \"" + id + "\" is not 1-" + (scoped ? "63" : "64") +
                            " of A-Z a-z 0-9 . _ - @");
        if (std::find(ids.begin(), ids.end(), id) != ids.end())
            return fail(ctx, eline, name + ": key id \"" + id + "\" given twice");
        ids.push_back(id);
        std::string why;
        if (has_public) {
            std::shared_ptr<EVP_PKEY> key = hf_jwt_read_public_key(resolve_path(ctx, public_file), alg, &why);
            if (!key)
                return fail(ctx, eline, name + ": " + why);
            ctx->cfg->jwt_keys.push_back(hf_jwt_key{id, alg, "", std::move(key)});
            continue;
        }
        // A key set's keys are named by their own kids.
        if (has_jwks) {
            if (!hf_jwt_read_jwks(resolve_path(ctx, jwks_file), alg, &ctx->cfg->jwt_keys, &why))
                return fail(ctx, eline, name + ": " + why);
            continue;
        }
        std::string secret;
        if (!read_secret_file(ctx, name.c_str(), resolve_path(ctx, file), eline, &secret))
            return false;
        if (tokens)
            ctx->cfg->jwt_keys.push_back(hf_jwt_key{id, hf_jwt_alg::hs256, secret, nullptr});
        if (scoped)
            ctx->cfg->api_keys.push_back(hf_api_key{id, std::move(secret), scope_bits, std::move(account_patterns)});
        else if (servers)
            ctx->cfg->cluster_servers.push_back(hf_cluster_member{id, std::move(secret), uint64_t(weight)});
        else
            ctx->cfg->token_keys.push_back(hf_token_key{id, std::move(secret)});
    }
    return true;
}

// Keys that meant something once: a config that still names one starts,
// with a warning that says what took its place.
struct retired_key {
    const char *name;
    const char *why;
};
const retired_key retired_keys[] = {
    {"delivery.max_attempts",
     "a connection that ends says nothing about a message, so disconnects no longer count against it; a message a "
     "device cannot take goes to its dead-letter list (handoffctl dead-letters)"},
};

const retired_key *find_retired(const std::string &path)
{
    for (const retired_key &k : retired_keys)
        if (path == k.name)
            return &k;
    return nullptr;
}

const hf_key_spec *find_key(const std::string &path)
{
    for (const hf_key_spec &spec : hf_key_table())
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
bool walk(parse_ctx *ctx, const config_setting_t *group, std::vector<const hf_key_spec *> *seen)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, unsigned(i));
        std::string path = setting_path(s);
        int line = config_setting_source_line(s);
        ctx->key_lines[path] = line;
        // A list of keys, by the table's type: a keyring key that a name
        // test left out would be taken and silently ignored.
        if (const hf_key_spec *spec = find_key(path); spec && spec->type == hf_key_type::keyring) {
            if (!parse_keyring(ctx, path, s))
                return false;
            seen->push_back(spec);
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
        const hf_key_spec *spec = find_key(path);
        if (const retired_key *retired = spec ? nullptr : find_retired(path)) {
            hf_log(HF_LOG_WARNING, "%s:%d: %s is no longer used and is ignored: %s", ctx->file.c_str(), line,
                   retired->name, retired->why);
            continue;
        }
        if (!spec)
            return fail(ctx, line, "unknown key \"" + path + "\" (see handoffd.conf(5))");
        if (!apply_key(ctx, *spec, text, is_string, line))
            return false;
        seen->push_back(spec);
    }
    return true;
}

// Web Push: its sealing key (a digest of the file's secret, so that any
// secret long enough gives a key of AES-256's size), and where its
// endpoints are reached.
bool check_push(parse_ctx *ctx)
{
    hf_config *cfg = ctx->cfg;
    int line = line_of(ctx, "push.key_file");
    if (cfg->listen_api.empty())
        return fail(ctx, line, "push.key_file: Web Push is served on the HTTP API: set listen.api too");
    std::string secret;
    if (!read_secret_file(ctx, "push.key_file", resolve_path(ctx, cfg->push_key_file), line, &secret))
        return false;
    unsigned char digest[32];
    hf_sha256(secret, digest);
    cfg->push_key.assign(reinterpret_cast<char *>(digest), sizeof digest);
    if (cfg->push_url.empty())
        cfg->push_url = cfg->api_advertise;
    while (!cfg->push_url.empty() && cfg->push_url.back() == '/')
        cfg->push_url.pop_back();
    if (cfg->push_url.compare(0, 8, "https://") != 0)
        return fail(ctx, line_of(ctx, "push.url"),
                    "push.url \"" + cfg->push_url + "\" must be an https:// URL: https://host:port");
    return true;
}

bool check_whole(parse_ctx *ctx)
{
    hf_config *cfg = ctx->cfg;
    if (cfg->tls_certificate.empty() || cfg->tls_key.empty())
        return fail(ctx, line_of(ctx, "tls"), "tls.certificate and tls.key are required");
    cfg->tls_certificate = resolve_path(ctx, cfg->tls_certificate);
    cfg->tls_key = resolve_path(ctx, cfg->tls_key);
    if (cfg->jwt_keys.empty())
        return fail(ctx, line_of(ctx, "tokens"),
                    "tokens.keys is required: ( { id = \"k1\"; secret_file = \"token.secret\"; } )");
    if (cfg->workers != 1 && cfg->role == hf_role::allocator)
        return fail(ctx, line_of(ctx, "workers"),
                    "workers is for roles standalone and server: an allocator keeps its servers' registrations in "
                    "one process");
    if (!cfg->listen_api.empty() && cfg->role == hf_role::allocator)
        return fail(ctx, line_of(ctx, "listen.api"), "listen.api is for roles standalone and server, not allocator");
    if (!cfg->listen_api.empty() && cfg->api_keys.empty())
        return fail(ctx, line_of(ctx, "listen.api"),
                    "listen.api needs api.keys = ( { id = \"backend\"; secret_file = \"api.secret\"; scope = "
                    "\"send\"; } )");
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
    for (const hf_cluster_member &m : cfg->cluster_servers)
        if (m.weight > uint64_t(cfg->cluster_max_weight))
            return fail(ctx, line_of(ctx, "cluster.servers"),
                        "cluster.servers: weight " + std::to_string(m.weight) + " of \"" + m.id +
                            "\" is past cluster.max_weight " + std::to_string(cfg->cluster_max_weight));
    // An allocator that lists its servers takes each one's own key.
    bool shared_key = cfg->role == hf_role::server || (cfg->role == hf_role::allocator && cfg->cluster_servers.empty());
    if (shared_key) {
        if (cfg->cluster_key_file.empty())
            return fail(ctx, line_of(ctx, "role"),
                        "roles server and allocator need cluster.key_file: the key servers register with (an "
                        "allocator may list cluster.servers, each with its own key, instead)");
        if (!read_secret_file(ctx, "cluster.key_file", resolve_path(ctx, cfg->cluster_key_file),
                              line_of(ctx, "cluster.key_file"), &cfg->cluster_key))
            return false;
    }
    if (cfg->role == hf_role::server && cfg->register_allocators.empty())
        return fail(ctx, line_of(ctx, "role"),
                    "role server needs register.allocators = [ \"host:port\", ... ]: where to register");
    if (!cfg->register_ca.empty())
        cfg->register_ca = resolve_path(ctx, cfg->register_ca);
    // A wildcard listener is no address to hand out: devices would be told
    // to connect to 0.0.0.0.
    if (cfg->role != hf_role::allocator && cfg->advertise.empty() && hf_address_is_wildcard(cfg->listen_device))
        return fail(ctx, line_of(ctx, "listen.device"),
                    "listen.device " + cfg->listen_device +
                        " listens on every address, which is no address to hand devices: set advertise = "
                        "\"relay.example.org:" +
                        hf_address_port(cfg->listen_device) +
                        "\" (a name its certificate carries, that devices reach)");
    if (cfg->role != hf_role::allocator && cfg->websocket_advertise.empty() &&
        hf_address_is_wildcard(cfg->listen_websocket))
        return fail(ctx, line_of(ctx, "listen.websocket"),
                    "listen.websocket " + cfg->listen_websocket +
                        " listens on every address, which is no address to hand browsers: set websocket.advertise "
                        "= \"wss://relay.example.org:" +
                        hf_address_port(cfg->listen_websocket) + cfg->websocket_path + "\"");
    if (cfg->advertise.empty())
        cfg->advertise = cfg->listen_device;
    if (cfg->websocket_advertise.empty() && !cfg->listen_websocket.empty())
        cfg->websocket_advertise = "wss://" + cfg->listen_websocket + cfg->websocket_path;
    if (cfg->api_advertise.empty() && !cfg->listen_api.empty()) {
        const std::string &where = hf_address_is_wildcard(cfg->listen_api) ? cfg->advertise : cfg->listen_api;
        cfg->api_advertise = "https://" + where.substr(0, where.rfind(':')) + ":" + hf_address_port(cfg->listen_api);
    }
    if (!cfg->api_advertise.empty() && cfg->api_advertise.compare(0, 8, "https://") != 0)
        return fail(ctx, line_of(ctx, "api.advertise"),
                    "api.advertise \"" + cfg->api_advertise + "\" must be an https:// URL: https://host:port");
    // Wake-ups' files are read later (core/wake/wake_options), relative to
    // the configuration as every file is.
    for (std::string *path :
         {&cfg->wake_vapid_key_file, &cfg->wake_fcm_credentials, &cfg->wake_apns_key_file, &cfg->wake_ca_file})
        *path = resolve_path(ctx, *path);
    if (!cfg->push_key_file.empty() && !check_push(ctx))
        return false;
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
    for (const hf_key_spec &spec : hf_key_table()) {
        if (spec.type == hf_key_type::keyring)
            continue;
        bool is_string = spec.type != hf_key_type::integer;
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
    std::vector<const hf_key_spec *> seen;
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
bool reloadable(const hf_key_spec &spec)
{
    static const char *const extra[] = {
        "tokens.clock_skew", "delivery.default_ttl", "delivery.ack_wait", "delivery.ack_batch",
        "log.level",         "log.limit_interval",   "cluster.max_weight"};
    std::string name = spec.name;
    if (name.rfind("limits.", 0) == 0)
        return name.rfind("limits.queue_max_", 0) != 0 && name.rfind("limits.account_max_", 0) != 0;
    for (const char *key : extra)
        if (name == key)
            return true;
    return false;
}

} // namespace

void hf_config_apply_reload(const hf_config &fresh, hf_config *running)
{
    running->token_keys = fresh.token_keys;
    running->jwt_keys = fresh.jwt_keys;
    running->token_audience = fresh.token_audience;
    running->token_issuer = fresh.token_issuer;
    running->api_keys = fresh.api_keys;
    running->cluster_servers = fresh.cluster_servers;
    for (const hf_key_spec &spec : hf_key_table()) {
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
    for (const hf_key_spec &spec : hf_key_table())
        docs.push_back(hf_config_key_doc{spec.name,
                                         spec.type == hf_key_type::choice ? spec.choices : type_name(spec.type),
                                         spec.default_value, spec.help});
    return docs;
}

bool hf_api_key_covers(const hf_api_key &key, const std::string &account)
{
    if (key.accounts.empty())
        return true;
    for (const std::string &pattern : key.accounts) {
        bool prefix = pattern.back() == '*';
        size_t n = pattern.size() - prefix;
        if (prefix ? account.compare(0, n, pattern, 0, n) == 0 : account == pattern)
            return true;
    }
    return false;
}
