#include "modules/redis/redis_device_state.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "modules/redis/redis_nodes.h"
#include "modules/redis/redis_store.h"
#include "modules/redis/redis_lua.h"

namespace hf_redis_store
{
namespace
{

uint64_t number_of(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? strtoull(r->str, nullptr, 10) : 0;
}

// A revocation as r:D holds it: "<not_before ms>|<0|1>" ("" for none).
void parse_revocation(const std::string &value, hf_store_device_state *state)
{
    size_t bar = value.find('|');
    if (bar == std::string::npos)
        return;
    state->not_before_ms = strtoull(value.c_str(), nullptr, 10);
    state->revoked = value[bar + 1] == '1';
}

void device_state_read(hf_store_state_cb cb, void *arg, redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
        cb(arg, r ? HF_STORE_ERROR : HF_STORE_UNAVAILABLE, nullptr);
        return;
    }
    hf_store_device_state state{};
    std::string presence(r->element[0]->str, r->element[0]->len);
    std::string server = presence_server(presence);
    if (!server.empty()) {
        state.server_id = server.c_str();
        state.connected_since_ms = strtoull(presence.c_str() + server.size() + 1, nullptr, 10);
    }
    state.last_seen_ms = number_of(r->element[1]);
    state.queue_messages = number_of(r->element[2]);
    state.queue_bytes = number_of(r->element[3]);
    parse_revocation(std::string(r->element[4]->str, r->element[4]->len), &state);
    cb(arg, HF_STORE_OK, &state);
}

} // namespace

void store_device_state(void *store, const char *account, const char *device, hf_store_state_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    std::vector<std::string> keys;
    for (const char *kind : {"p", "l", "i", "r"})
        keys.push_back(key_of(s, account, kind, device));
    hf_redis_script(s->nodes, slot_of(s, account), hf_redis_device_state_lua, std::move(keys), {},
                    [cb, arg](redisReply *r) { device_state_read(cb, arg, r); });
}

void store_revocation(void *store, const char *account, const char *device, void (*cb)(void *, int, uint64_t, int),
                      void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    hf_redis_call(s->nodes, slot_of(s, account), {"GET", key_of(s, account, "r", device)}, [cb, arg](redisReply *r) {
        if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
            cb(arg, r ? HF_STORE_ERROR : HF_STORE_UNAVAILABLE, 0, 0);
            return;
        }
        hf_store_device_state state{};
        if (r->type == REDIS_REPLY_STRING)
            parse_revocation(std::string(r->str, r->len), &state);
        cb(arg, HF_STORE_OK, state.not_before_ms, state.revoked);
    });
}

void store_set_revocation(void *store, const char *account, const char *device, uint64_t not_before_ms, int revoked,
                          hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    durable_write(s, account,
                  {"SET", key_of(s, account, "r", device), std::to_string(not_before_ms) + (revoked ? "|1" : "|0")}, cb,
                  arg);
}

void store_record_put(void *store, const char *account, const char *device, const char *name, const uint8_t *value,
                      size_t value_len, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    std::string key = key_of(s, account, "v", device);
    std::vector<std::string> args = {value ? "HSET" : "HDEL", key, name};
    if (value)
        args.emplace_back(reinterpret_cast<const char *>(value), value_len);
    durable_write(s, account, std::move(args), cb, arg);
}

void store_records(void *store, const char *account, const char *device, hf_store_records_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    hf_redis_call(
        s->nodes, slot_of(s, account), {"HGETALL", key_of(s, account, "v", device)}, [cb, arg](redisReply *r) {
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
                cb(arg, r ? HF_STORE_ERROR : HF_STORE_UNAVAILABLE, nullptr, 0);
                return;
            }
            std::map<std::string, std::string> sorted;
            for (size_t i = 0; i + 1 < r->elements; i += 2)
                sorted.emplace(std::string(r->element[i]->str, r->element[i]->len),
                               std::string(r->element[i + 1]->str, r->element[i + 1]->len));
            std::vector<hf_store_record> records;
            for (const auto &[name, value] : sorted)
                records.push_back({name.c_str(), reinterpret_cast<const uint8_t *>(value.data()), value.size()});
            cb(arg, HF_STORE_OK, records.data(), records.size());
        });
}

} // namespace hf_redis_store
