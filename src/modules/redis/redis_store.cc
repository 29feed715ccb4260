#include "modules/redis/redis_store.h"

#include <hiredis/hiredis.h>

#include "modules/redis/redis_slots.h"

namespace hf_redis_store
{

std::string dev_of(const char *account, const char *device)
{
    return std::string(account) + "|" + device;
}

// A key of an account: P{A}<kind>[:D].
std::string key_of(const redis_store *s, const std::string &account, const char *kind, const char *device)
{
    std::string k = s->prefix + "{" + account + "}" + kind;
    if (device)
        k.append(":").append(device);
    return k;
}

// A key kept per slot: P{T}<kind>.
std::string slot_key(const redis_store *s, int slot, const char *kind)
{
    return s->prefix + "{" + hf_redis_slot_tags()[size_t(slot)] + "}" + kind;
}

// The slot an account's calls go to: its own on a cluster; on one Redis,
// which routes nothing, 0 (and no CRC16 a message).
int slot_of(const redis_store *s, const std::string &account)
{
    return s->cluster ? hf_redis_key_slot(account) : 0;
}

// The slot whose expiry index and depth counter count an account's
// devices (given the account's slot): its own on a cluster; on one Redis,
// where no script is bound to a slot, slot 0's for every account, so the
// sweep and the depth read one key each rather than 16,384.
int index_slot(const redis_store *s, int account_slot)
{
    return s->cluster ? account_slot : 0;
}

int indexed_slots(const redis_store *s)
{
    return s->cluster ? hf_redis_slot_count : 1;
}

// The server of a presence value "<server id>|<since>" ("" for none).
std::string presence_server(const std::string &value)
{
    size_t bar = value.rfind('|');
    return bar == std::string::npos ? std::string() : value.substr(0, bar);
}

void done_status(hf_store_done_cb cb, void *arg, redisReply *r)
{
    cb(arg, !r ? HF_STORE_UNAVAILABLE : r->type == REDIS_REPLY_ERROR ? HF_STORE_ERROR : HF_STORE_OK);
}

void durable_write(redis_store *s, const char *account, std::vector<std::string> args, hf_store_done_cb cb, void *arg)
{
    // The reply settles a failure; a success waits for its WAIT.
    hf_redis_call(
        s->nodes, slot_of(s, account), std::move(args),
        [cb, arg](redisReply *r) {
            if (!r || r->type == REDIS_REPLY_ERROR)
                done_status(cb, arg, r);
        },
        [cb, arg](bool replicated) { cb(arg, replicated ? HF_STORE_OK : HF_STORE_UNAVAILABLE); });
}

} // namespace hf_redis_store
