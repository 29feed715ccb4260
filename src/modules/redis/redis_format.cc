#include "modules/redis/redis_format.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "modules/redis/redis_slots.h"
#include "modules/redis/redis_store.h"

namespace hf_redis_store
{

const int redis_format = 1;

namespace
{

const char *const format_word = "handoff-redis";
const int most_redirects = 3;

std::string format_key(const std::string &prefix)
{
    return prefix + "format";
}

// The format a value of the key says; -1 when it says none we know.
int format_in(const char *value, size_t len)
{
    std::string text(value, len);
    int n = -1;
    char word[32];
    if (sscanf(text.c_str(), "%31s %d", word, &n) != 2 || strcmp(word, format_word) != 0)
        return -1;
    return n;
}

struct reply_deleter {
    void operator()(redisReply *r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;
struct context_deleter {
    void operator()(redisContext *c) const { redisFree(c); }
};
using context_ptr = std::unique_ptr<redisContext, context_deleter>;

reply_ptr command(redisContext *c, const std::vector<std::string> &args)
{
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    for (const std::string &a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    return reply_ptr(static_cast<redisReply *>(redisCommandArgv(c, int(argv.size()), argv.data(), lens.data())));
}

// A connection to address, authenticated and on the database; null when
// it cannot be had.
context_ptr connect_to(const hf_redis_nodes_config &config, const std::string &address)
{
    std::string host;
    int port = 0;
    if (!hf_redis_split_address(address, &host, &port))
        return nullptr;
    // At most a second a node: -t waits for no Redis that does not answer.
    uint64_t ms = config.timeout_ms < 1000 ? config.timeout_ms : 1000;
    timeval timeout{time_t(ms / 1000), suseconds_t(ms % 1000 * 1000)};
    context_ptr c(redisConnectWithTimeout(host.c_str(), port, timeout));
    if (!c || c->err || redisSetTimeout(c.get(), timeout) != REDIS_OK)
        return nullptr;
    if (!config.password.empty()) {
        reply_ptr r = command(c.get(), {"AUTH", config.password});
        if (!r || r->type == REDIS_REPLY_ERROR)
            return nullptr;
    }
    if (!config.cluster && config.database != 0) {
        reply_ptr r = command(c.get(), {"SELECT", std::to_string(config.database)});
        if (!r || r->type == REDIS_REPLY_ERROR)
            return nullptr;
    }
    return c;
}

// GET key from the first seed that answers, following MOVED; false when
// none answers with a value or nil.
bool read_key(const hf_redis_nodes_config &config, const std::string &key, std::string *value, bool *found)
{
    for (const std::string &seed : config.seeds) {
        std::string address = seed;
        for (int hop = 0; hop <= most_redirects; hop++) {
            context_ptr c = connect_to(config, address);
            reply_ptr r = c ? command(c.get(), {"GET", key}) : nullptr;
            if (!r)
                break;
            hf_redis_redirect moved;
            if (r->type == REDIS_REPLY_ERROR && hf_redis_parse_redirect(r->str, r->len, &moved) && !moved.ask) {
                address = moved.address;
                continue;
            }
            if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)
                break;
            *found = r->type == REDIS_REPLY_STRING;
            value->assign(*found ? r->str : "", *found ? r->len : 0);
            return true;
        }
    }
    return false;
}

std::string newer_said(const std::string &prefix, int format)
{
    return "the keys under store.prefix \"" + prefix + "\" are in store format " + std::to_string(format) +
           ", and this handoffd (" PACKAGE_VERSION ") reads formats up to " + std::to_string(redis_format) +
           ": reading them would lose messages. Run the handoffd that wrote them, or a later one";
}

} // namespace

int format_check(const hf_redis_nodes_config &config, const std::string &prefix, char *err, size_t err_len)
{
    std::string value;
    bool found = false;
    if (!read_key(config, format_key(prefix), &value, &found) || !found)
        return 0;
    int format = format_in(value.data(), value.size());
    if (format >= 0 && format <= redis_format)
        return 0;
    snprintf(err, err_len, "%s",
             format < 0 ? ("the key " + format_key(prefix) + " in Redis holds \"" + value +
                           "\", not a handoff store format; is store.prefix another program's?")
                              .c_str()
                        : newer_said(prefix, format).c_str());
    return -1;
}

namespace
{

void on_format_retry(evutil_socket_t, short, void *arg)
{
    format_record(static_cast<redis_store *>(arg));
}

// How often a server that could not reach Redis tries to record the format.
const timeval format_retry_interval{1, 0};

} // namespace

const char *format_name(void *)
{
    static const std::string name = std::string(format_word) + " " + std::to_string(redis_format);
    return name.c_str();
}

void format_record(redis_store *s)
{
    std::string key = format_key(s->prefix);
    std::string value = format_name(s);
    // SET NX GET (Redis 7): the value before, nil when this set it.
    hf_redis_call(s->nodes, hf_redis_key_slot(key), {"SET", key, value, "NX", "GET"}, [s](redisReply *r) {
        if (s->closing)
            return;
        if (!r) { // Redis away: again until it answers
            if (!s->format_retry)
                s->format_retry = evtimer_new(s->host->event_base(s->host->host), on_format_retry, s);
            evtimer_add(s->format_retry, &format_retry_interval);
            return;
        }
        if (r->type == REDIS_REPLY_NIL) {
            s->host->log(s->host->host, HF_LOG_INFO, "store_redis",
                         "store format %d recorded under \"%s\" (a new store, or one from before format "
                         "versions: 0 -> %d converts nothing)",
                         redis_format, s->prefix.c_str(), redis_format);
            return;
        }
        if (r->type != REDIS_REPLY_STRING) {
            s->host->log(s->host->host, HF_LOG_WARNING, "store_redis",
                         "cannot record the store format (SET NX GET needs Redis 7): %s",
                         r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
            return;
        }
        int format = format_in(r->str, r->len);
        if (format > redis_format) {
            s->closing = true; // every call answered store_unavailable while the host stops
            s->host->fatal(s->host->host, "store_redis", newer_said(s->prefix, format).c_str());
        }
    });
}

} // namespace hf_redis_store
