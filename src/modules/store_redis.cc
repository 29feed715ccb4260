// store_redis: queues, presence and "new data" notifications in Redis, so
// several servers share them. hiredis's async API runs on the daemon's own
// libevent base: no extra thread. While Redis is unreachable every
// operation completes with HF_STORE_UNAVAILABLE (never a false
// acknowledgement) and the module reconnects with backoff.
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "modules/abi_v1.h"
#include "modules/store_redis_scripts.h"

namespace
{

enum setting_index {
    address_setting,
    password_setting,
    database_setting,
    prefix_setting,
    timeout_setting,
    setting_count
};

const hf_setting_spec settings[setting_count] = {
    {"address", HF_SETTING_STRING, "127.0.0.1:6379", 0, 0, "Redis server, host:port"},
    {"password", HF_SETTING_STRING, "", 0, 0, "password for AUTH (empty: none)"},
    {"database", HF_SETTING_INT, "0", 0, 1000, "database number for SELECT"},
    {"prefix", HF_SETTING_STRING, "hf:", 0, 0, "prefix of every key and channel"},
    {"timeout", HF_SETTING_DURATION, "2s", 10, 60000,
     "connect timeout, and how long an unanswered health PING may take before the connection is dropped"},
};

// Reconnect backoff: quick first, then capped.
const uint64_t retry_base_ms = 100;
const uint64_t retry_cap_ms = 5000;

using reply_fn = std::function<void(redisReply *)>; // null reply: unavailable

struct redis_store;

// One connection: commands (the main one) or the notification subscription.
struct redis_link {
    redis_store *s = nullptr;
    redisAsyncContext *ac = nullptr;
    bool ready = false; // connected, AUTH/SELECT sent
    bool subscriber = false;
    uint32_t attempt = 0;
    event *retry_timer = nullptr;
    bool reported_down = false;
};

struct redis_store {
    const hf_host_api *host;
    hf_store_params params;
    std::string server_id;
    std::string host_name;
    int port = 6379;
    std::string password, prefix;
    std::unordered_map<const char *, std::string> script_shas; // script text -> its SHA-1, hex
    int64_t database = 0;
    uint64_t timeout_ms = 2000;
    redis_link cmd, sub;
    event *health_timer = nullptr;
    bool health_ping_out = false;
};

void connect_link(redis_link *l);

void on_reply(redisAsyncContext *, void *r, void *privdata)
{
    std::unique_ptr<reply_fn> fn(static_cast<reply_fn *>(privdata));
    if (fn && *fn)
        (*fn)(static_cast<redisReply *>(r));
}

// Sends a command; done runs with the reply, or null if Redis is not
// reachable (now, or before it answers).
void command(redis_store *s, const std::vector<std::string> &args, reply_fn done)
{
    if (!s->cmd.ready) {
        done(nullptr);
        return;
    }
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    for (const std::string &a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    auto *fn = new reply_fn(std::move(done));
    if (redisAsyncCommandArgv(s->cmd.ac, on_reply, fn, int(argv.size()), argv.data(), lens.data()) != REDIS_OK) {
        std::unique_ptr<reply_fn> owned(fn);
        (*owned)(nullptr);
    }
}

// The SHA-1 of a script, as EVALSHA names it; computed once per script.
const std::string &script_sha(redis_store *s, const char *script)
{
    std::string &hex = s->script_shas[script];
    if (hex.empty()) {
        unsigned char digest[SHA_DIGEST_LENGTH];
        SHA1(reinterpret_cast<const unsigned char *>(script), strlen(script), digest);
        static const char digits[] = "0123456789abcdef";
        for (unsigned char byte : digest) {
            hex.push_back(digits[byte >> 4]);
            hex.push_back(digits[byte & 15]);
        }
    }
    return hex;
}

// Runs one of store_redis_scripts.h by its SHA-1 (EVALSHA), so a message
// costs its arguments on the wire and not the script's few kilobytes,
// which Redis would also hash on every EVAL. A Redis that does not know
// the script yet (a restart, a failover) answers NOSCRIPT: then once with
// EVAL, which also makes it known. `args` are the script's, after numkeys.
void run_script(redis_store *s, const char *script, std::vector<std::string> args, reply_fn done)
{
    args.insert(args.begin(), {"EVALSHA", script_sha(s, script), "0"});
    auto call = std::make_shared<std::vector<std::string>>(std::move(args));
    command(s, *call, [s, script, call, done = std::move(done)](redisReply *r) {
        if (!r || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0) {
            done(r);
            return;
        }
        (*call)[0] = "EVAL";
        (*call)[1] = script;
        command(s, *call, done);
    });
}

void schedule_retry(redis_link *l, const char *why)
{
    l->ready = false;
    l->ac = nullptr;
    if (!l->reported_down) {
        l->s->host->log(l->s->host->host, HF_LOG_WARNING, "store_redis",
                        "Redis %s:%d %s: %s; senders get store_unavailable until it is back (retrying)",
                        l->s->host_name.c_str(), l->s->port, l->subscriber ? "(notifications)" : "", why);
        l->reported_down = true;
    }
    uint64_t delay = retry_base_ms << (l->attempt < 6 ? l->attempt : 6);
    l->attempt++;
    if (delay > retry_cap_ms)
        delay = retry_cap_ms;
    timeval tv = {time_t(delay / 1000), suseconds_t(delay % 1000 * 1000)};
    event_add(l->retry_timer, &tv);
}

void on_notification(redisAsyncContext *, void *r, void *privdata)
{
    auto *s = static_cast<redis_store *>(privdata);
    auto *reply = static_cast<redisReply *>(r);
    // ["message", channel, "account|device"]
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        strcmp(reply->element[0]->str, "message") != 0)
        return;
    std::string body(reply->element[2]->str, reply->element[2]->len);
    size_t bar = body.find('|');
    if (bar == std::string::npos)
        return;
    std::string account = body.substr(0, bar), device = body.substr(bar + 1);
    s->host->data_ready(s->host->host, account.c_str(), device.c_str());
}

void on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
    auto *reply = static_cast<redisReply *>(r);
    if (!reply || reply->type != REDIS_REPLY_ERROR)
        return;
    auto *l = static_cast<redis_link *>(privdata);
    l->s->host->log(l->s->host->host, HF_LOG_ERROR, "store_redis", "Redis %s:%d refused AUTH: %s; check store.password",
                    l->s->host_name.c_str(), l->s->port, reply->str);
    l->reported_down = true; // said why; the retry loop stays quiet
    redisAsyncDisconnect(ac);
}

void on_connect(const redisAsyncContext *ac, int status)
{
    auto *l = static_cast<redis_link *>(ac->data);
    if (status != REDIS_OK) {
        schedule_retry(l, ac->errstr);
        return;
    }
    redis_store *s = l->s;
    auto *mut = const_cast<redisAsyncContext *>(ac);
    // Commands queue in order: AUTH and SELECT go before anything else.
    if (!s->password.empty())
        redisAsyncCommand(mut, on_auth, l, "AUTH %b", s->password.data(), s->password.size());
    if (l->subscriber) {
        std::string channel = s->prefix + "n:" + s->server_id;
        redisAsyncCommand(mut, on_notification, s, "SUBSCRIBE %b", channel.data(), channel.size());
    } else if (s->database) {
        redisAsyncCommand(mut, nullptr, nullptr, "SELECT %lld", (long long)s->database);
    }
    l->ready = true;
    l->attempt = 0;
    if (l->reported_down)
        s->host->log(s->host->host, HF_LOG_INFO, "store_redis", "Redis %s:%d is back%s", s->host_name.c_str(), s->port,
                     l->subscriber ? " (notifications)" : "");
    l->reported_down = false;
}

void on_disconnect(const redisAsyncContext *ac, int status)
{
    auto *l = static_cast<redis_link *>(ac->data);
    if (!l)
        return; // closed by store_close
    schedule_retry(l, status == REDIS_OK ? "connection closed" : ac->errstr);
}

void connect_link(redis_link *l)
{
    redis_store *s = l->s;
    redisAsyncContext *ac = redisAsyncConnect(s->host_name.c_str(), s->port);
    if (!ac || ac->err) {
        std::string why = ac ? ac->errstr : "out of memory";
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(l, why.c_str());
        return;
    }
    ac->data = l;
    l->ac = ac;
    redisLibeventAttach(ac, s->host->event_base(s->host->host));
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

void on_retry(evutil_socket_t, short, void *arg)
{
    connect_link(static_cast<redis_link *>(arg));
}

// A Redis that hangs (no answers, no close) is treated as down: hiredis
// 0.14 has no command timeout of its own.
void on_health(evutil_socket_t, short, void *arg)
{
    auto *s = static_cast<redis_store *>(arg);
    if (s->health_ping_out && s->cmd.ready) {
        redisAsyncContext *ac = s->cmd.ac;
        s->health_ping_out = false;
        redisAsyncDisconnect(ac); // pending callbacks get null: unavailable
        return;
    }
    if (!s->cmd.ready)
        return;
    s->health_ping_out = true;
    command(s, {"PING"}, [s](redisReply *) { s->health_ping_out = false; });
}

std::string dev_of(const char *account, const char *device)
{
    return std::string(account) + "|" + device;
}

int int_of(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER ? int(r->integer) : -1;
}

int store_open(const hf_host_api *host, const hf_store_params *params, const hf_setting_value *values, void **store,
               char *err, size_t err_len)
{
    auto *s = new redis_store;
    s->host = host;
    s->params = *params;
    s->server_id = params->server_id ? params->server_id : "";
    std::string address = values[address_setting].string;
    size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        snprintf(err, err_len, "store.address \"%s\": expected host:port", address.c_str());
        delete s;
        return -1;
    }
    s->host_name = address.substr(0, colon);
    s->port = atoi(address.c_str() + colon + 1);
    s->password = values[password_setting].string;
    s->database = values[database_setting].number;
    s->prefix = values[prefix_setting].string;
    s->timeout_ms = uint64_t(values[timeout_setting].number);
    event_base *base = host->event_base(host->host);
    for (redis_link *l : {&s->cmd, &s->sub}) {
        l->s = s;
        l->retry_timer = event_new(base, -1, 0, on_retry, l);
    }
    s->sub.subscriber = true;
    connect_link(&s->cmd);
    connect_link(&s->sub);
    s->health_timer = event_new(base, -1, EV_PERSIST, on_health, s);
    timeval tv = {time_t(s->timeout_ms / 1000), suseconds_t(s->timeout_ms % 1000 * 1000)};
    event_add(s->health_timer, &tv);
    *store = s;
    return 0;
}

void store_close(void *store)
{
    auto *s = static_cast<redis_store *>(store);
    event_free(s->health_timer);
    for (redis_link *l : {&s->cmd, &s->sub}) {
        event_free(l->retry_timer);
        if (l->ac) {
            l->ac->data = nullptr;
            redisAsyncFree(l->ac);
        }
    }
    delete s;
}

void store_enqueue(void *store, const hf_store_enqueue_req *req, hf_store_enqueue_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    std::string dev = dev_of(req->account, req->device);
    std::string collapse = req->collapse_key ? req->collapse_key : "";
    char header[160];
    snprintf(header, sizeof header, "%zu %llu %llu %llu %zu %zu\n", req->payload_len,
             (unsigned long long)req->expires_at_ms, (unsigned long long)req->stored_at_ms,
             (unsigned long long)req->msg_id, strlen(req->from), collapse.size());
    std::string record = header;
    record += req->from;
    record += collapse;
    record.append(reinterpret_cast<const char *>(req->payload), req->payload_len);
    run_script(s, hf_redis_enqueue_lua,
               {s->prefix, dev, req->from, std::to_string(req->msg_id >> 32), std::to_string(req->msg_id & 0xffffffffu),
                record, std::to_string(req->payload_len), collapse, std::to_string(req->expires_at_ms),
                std::to_string(s->params.queue_max_messages), std::to_string(s->params.queue_max_bytes),
                std::to_string(s->params.dedup_window_ms), std::to_string(s->params.dedup_ids),
                std::to_string(s->host->now_ms(s->host->host))},
               [cb, arg](redisReply *r) {
                   if (!r) {
                       cb(arg, HF_STORE_UNAVAILABLE, 0, 0);
                       return;
                   }
                   if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
                       cb(arg, r->type == REDIS_REPLY_ERROR && strstr(r->str, "OOM") ? HF_STORE_FULL : HF_STORE_ERROR,
                          0, 0);
                       return;
                   }
                   int status = int_of(r->element[0]);
                   int mapped = status == 0 ? HF_STORE_OK : status == 1 ? HF_STORE_DUPLICATE : HF_STORE_QUEUE_FULL;
                   cb(arg, mapped, uint64_t(r->element[1]->integer), int(r->element[2]->integer));
               });
}

// Splits a record written by store_enqueue.
bool parse_record(const char *data, size_t len, hf_store_msg *m, std::string *from, std::string *collapse)
{
    const char *nl = static_cast<const char *>(memchr(data, '\n', len));
    if (!nl)
        return false;
    unsigned long long plen, exp, stored, id, flen, clen;
    if (sscanf(data, "%llu %llu %llu %llu %llu %llu", &plen, &exp, &stored, &id, &flen, &clen) != 6)
        return false;
    size_t body = size_t(nl - data) + 1;
    if (body + flen + clen + plen != len)
        return false;
    from->assign(data + body, flen);
    collapse->assign(data + body + flen, clen);
    m->msg_id = id;
    m->expires_at_ms = exp;
    m->stored_at_ms = stored;
    m->payload = reinterpret_cast<const uint8_t *>(data + body + flen + clen);
    m->payload_len = plen;
    return true;
}

void store_fetch(void *store, const char *account, const char *device, uint64_t after_seq, uint32_t max_count,
                 uint64_t max_bytes, uint64_t now_ms, hf_store_fetch_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    run_script(s, hf_redis_fetch_lua,
               {s->prefix, dev_of(account, device), std::to_string(after_seq), std::to_string(max_count),
                std::to_string(now_ms)},
               [cb, arg, max_bytes](redisReply *r) {
                   if (!r || r->type != REDIS_REPLY_ARRAY) {
                       cb(arg, r ? HF_STORE_ERROR : HF_STORE_UNAVAILABLE, nullptr, 0);
                       return;
                   }
                   std::vector<hf_store_msg> out;
                   std::vector<std::string> strings; // from and collapse, kept for the callback
                   strings.reserve(r->elements);
                   uint64_t bytes = 0;
                   for (size_t i = 0; i + 1 < r->elements; i += 2) {
                       hf_store_msg m{};
                       std::string from, collapse;
                       if (!parse_record(r->element[i + 1]->str, r->element[i + 1]->len, &m, &from, &collapse))
                           continue;
                       if (!out.empty() && bytes + m.payload_len > max_bytes)
                           break;
                       bytes += m.payload_len;
                       m.seq = strtoull(r->element[i]->str, nullptr, 10);
                       strings.push_back(std::move(from));
                       m.from = strings.back().c_str();
                       if (!collapse.empty()) {
                           strings.push_back(std::move(collapse));
                           m.collapse_key = strings.back().c_str();
                       }
                       out.push_back(m);
                   }
                   cb(arg, HF_STORE_OK, out.data(), out.size());
               });
}

void done_status(hf_store_done_cb cb, void *arg, redisReply *r)
{
    cb(arg, !r ? HF_STORE_UNAVAILABLE : r->type == REDIS_REPLY_ERROR ? HF_STORE_ERROR : HF_STORE_OK);
}

void store_ack(void *store, const char *account, const char *device, uint64_t upto_seq, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    run_script(s, hf_redis_ack_lua, {s->prefix, dev_of(account, device), std::to_string(upto_seq)},
               [cb, arg](redisReply *r) { done_status(cb, arg, r); });
}

void store_add_device(void *store, const char *account, const char *device, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    command(s, {"SADD", s->prefix + "d:" + account, device}, [cb, arg](redisReply *r) { done_status(cb, arg, r); });
}

void store_list_devices(void *store, const char *account, hf_store_devices_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    command(s, {"SMEMBERS", s->prefix + "d:" + account}, [cb, arg](redisReply *r) {
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            cb(arg, r ? HF_STORE_ERROR : HF_STORE_UNAVAILABLE, nullptr, 0);
            return;
        }
        std::vector<const char *> names;
        for (size_t i = 0; i < r->elements; i++)
            names.push_back(r->element[i]->str);
        cb(arg, HF_STORE_OK, names.data(), names.size());
    });
}

// Answers a count callback from an integer reply.
reply_fn count_reply(void (*cb)(void *, int, uint64_t), void *arg)
{
    return [cb, arg](redisReply *r) {
        cb(arg, r ? HF_STORE_OK : HF_STORE_UNAVAILABLE, r && r->type == REDIS_REPLY_INTEGER ? uint64_t(r->integer) : 0);
    };
}

void store_expire(void *store, uint64_t now_ms, void (*cb)(void *, int, uint64_t), void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    run_script(s, hf_redis_expire_lua, {s->prefix, std::to_string(now_ms)}, count_reply(cb, arg));
}

// Every stored message has one entry in the TTL index, so its size is the
// depth of all queues together, in O(1).
void store_depth(void *store, void (*cb)(void *, int, uint64_t), void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    command(s, {"ZCARD", s->prefix + "ttl"}, count_reply(cb, arg));
}

// One "name:value" line of an INFO reply, as a number; 0 if absent.
uint64_t info_field(const redisReply *r, const char *name)
{
    std::string key = std::string("\n") + name + ":";
    const char *at = strstr(r->str, key.c_str());
    return at ? strtoull(at + key.size(), nullptr, 10) : 0;
}

// Redis's own memory: the whole instance, which servers sharing it (and
// anything else kept there) use together.
void store_usage(void *store, void (*cb)(void *, int, uint64_t, uint64_t), void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    command(s, {"INFO", "memory"}, [cb, arg](redisReply *r) {
        if (!r || r->type != REDIS_REPLY_STRING) {
            cb(arg, r ? HF_STORE_ERROR : HF_STORE_UNAVAILABLE, 0, 0);
            return;
        }
        cb(arg, HF_STORE_OK, info_field(r, "used_memory"), info_field(r, "maxmemory"));
    });
}

void store_presence_set(void *store, const char *account, const char *device, const char *server_id, uint64_t ttl_ms,
                        hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    command(s, {"SET", s->prefix + "p:" + dev_of(account, device), server_id, "PX", std::to_string(ttl_ms)},
            [cb, arg](redisReply *r) { done_status(cb, arg, r); });
}

void store_presence_clear(void *store, const char *account, const char *device, const char *server_id,
                          hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    run_script(s, hf_redis_presence_clear_lua, {s->prefix + "p:" + dev_of(account, device), server_id},
               [cb, arg](redisReply *r) { done_status(cb, arg, r); });
}

void store_presence_lookup(void *store, const char *account, const char *device, hf_store_presence_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    command(s, {"GET", s->prefix + "p:" + dev_of(account, device)}, [cb, arg](redisReply *r) {
        if (!r) {
            cb(arg, HF_STORE_UNAVAILABLE, nullptr);
            return;
        }
        std::string id = r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
        cb(arg, HF_STORE_OK, id.empty() ? nullptr : id.c_str());
    });
}

void store_notify(void *store, const char *server_id, const char *account, const char *device)
{
    auto *s = static_cast<redis_store *>(store);
    command(s, {"PUBLISH", s->prefix + "n:" + server_id, dev_of(account, device)}, [](redisReply *) {});
}

const hf_store_ops redis_ops = {
    sizeof(hf_store_ops), store_open,         store_close,          store_enqueue,
    store_fetch,          store_ack,          store_add_device,     store_list_devices,
    store_expire,         store_presence_set, store_presence_clear, store_presence_lookup,
    store_notify,         store_depth,        store_usage,
};

} // namespace

extern "C" int handoff_module_init(const hf_host_api *, hf_module_info *info)
{
    info->abi_version = HF_MODULE_ABI_VERSION;
    info->kind = HF_MODULE_STORE;
    info->name = "redis";
    info->description = "queues, presence and notifications in Redis, shared by several servers";
    info->settings = settings;
    info->setting_count = setting_count;
    info->ops = &redis_ops;
    return 0;
}
