#include "modules/redis/redis_totals.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "modules/redis/redis_store.h"
#include "modules/redis/redis_lua.h"

namespace hf_redis_store
{

namespace
{

// Devices the sweep reads from one slot's expiry index at a time, and how
// many reads one expire call makes of the one index of a single Redis (a
// cluster's slots are read once each: 16,384 of them).
const size_t sweep_devices_per_read = 100;
const int sweep_rounds_one_redis = 100;

// Answers an expire or depth call once every slot it asked has: a count,
// and whether every one answered. Shared by the calls' callbacks, so a
// store closed before the last answer frees it with them.
struct slot_tally {
    uint64_t total = 0;
    int left = 0;
    bool unavailable = false;
    void (*cb)(void *, int, uint64_t);
    void *arg;

    void one_done()
    {
        if (--left == 0)
            cb(arg, unavailable ? HF_STORE_UNAVAILABLE : HF_STORE_OK, total);
    }
};
using tally_ptr = std::shared_ptr<slot_tally>;

// Drops the expired messages of one device its slot's index says is due.
void expire_device(redis_store *s, const tally_ptr &tally, int index, const std::string &member, uint64_t now_ms)
{
    size_t bar = member.find('|');
    if (bar == std::string::npos)
        return;
    std::string account = member.substr(0, bar), device = member.substr(bar + 1);
    tally->left++;
    hf_redis_script(s->nodes, slot_of(s, account), hf_redis_expire_lua,
                    {key_of(s, account, "q", device.c_str()), key_of(s, account, "i", device.c_str()),
                     key_of(s, account, "x", device.c_str()), slot_key(s, index, "e"), slot_key(s, index, "n"),
                     key_of(s, account, "c", device.c_str()), key_of(s, account, "t"), key_of(s, account, "k")},
                    {std::to_string(now_ms), member}, [tally](redisReply *r) {
                        if (!r)
                            tally->unavailable = true;
                        else if (r->type == REDIS_REPLY_INTEGER)
                            tally->total += uint64_t(r->integer);
                        tally->one_done();
                    });
}

// Reads the devices of one slot's index that are due, expires each, and
// reads again while a read came back full (each expire script rescoring
// its device runs before the next read, on the same connection), up to
// `rounds` reads.
void sweep_slot(redis_store *s, const tally_ptr &tally, int index, uint64_t now_ms, int rounds)
{
    tally->left++;
    hf_redis_call(s->nodes, index,
                  {"ZRANGEBYSCORE", slot_key(s, index, "e"), "-inf", std::to_string(now_ms), "LIMIT", "0",
                   std::to_string(sweep_devices_per_read)},
                  [s, tally, index, now_ms, rounds](redisReply *r) {
                      if (!r)
                          tally->unavailable = true;
                      if (r && r->type == REDIS_REPLY_ARRAY) {
                          for (size_t i = 0; i < r->elements; i++)
                              expire_device(s, tally, index, std::string(r->element[i]->str, r->element[i]->len),
                                            now_ms);
                          if (r->elements == sweep_devices_per_read && rounds > 1)
                              sweep_slot(s, tally, index, now_ms, rounds - 1);
                      }
                      tally->one_done();
                  });
}

} // namespace

// Each slot keeps an index of its devices by their earliest expiry (no
// key spans slots, so a cluster's nodes sweep what they hold): the
// devices due are read first, and only their queues are touched.
void store_expire(void *store, uint64_t now_ms, void (*cb)(void *, int, uint64_t), void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    auto tally = std::make_shared<slot_tally>(slot_tally{0, 1, false, cb, arg});
    int slots = indexed_slots(s);
    for (int index = 0; index < slots; index++)
        sweep_slot(s, tally, index, now_ms, s->cluster ? 1 : sweep_rounds_one_redis);
    tally->one_done();
}

// The depth counters of every slot, added up.
void store_depth(void *store, void (*cb)(void *, int, uint64_t), void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    auto tally = std::make_shared<slot_tally>(slot_tally{0, 1, false, cb, arg});
    int slots = indexed_slots(s);
    for (int index = 0; index < slots; index++) {
        tally->left++;
        hf_redis_call(s->nodes, index, {"GET", slot_key(s, index, "n")}, [tally](redisReply *r) {
            if (!r)
                tally->unavailable = true;
            else if (r->type == REDIS_REPLY_STRING)
                tally->total += strtoull(r->str, nullptr, 10);
            tally->one_done();
        });
    }
    tally->one_done();
}

// One "name:value" line of an INFO reply, as a number; 0 if absent.
uint64_t info_field(const redisReply *r, const char *name)
{
    std::string key = std::string("\n") + name + ":";
    const char *at = strstr(r->str, key.c_str());
    return at ? strtoull(at + key.size(), nullptr, 10) : 0;
}

// Redis's own memory: every primary's, which servers sharing it (and
// anything else kept there) use together.
void store_usage(void *store, void (*cb)(void *, int, uint64_t, uint64_t), void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    struct totals {
        uint64_t used = 0, capacity = 0;
        int status = HF_STORE_OK;
    };
    auto t = std::make_shared<totals>();
    hf_redis_call_each(
        s->nodes, {"INFO", "memory"},
        [t](redisReply *r) {
            if (!r || r->type != REDIS_REPLY_STRING) {
                t->status = r ? HF_STORE_ERROR : HF_STORE_UNAVAILABLE;
                return;
            }
            t->used += info_field(r, "used_memory");
            t->capacity += info_field(r, "maxmemory");
        },
        [t, cb, arg]() { cb(arg, t->status, t->used, t->capacity); });
}

} // namespace hf_redis_store
