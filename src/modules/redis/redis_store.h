// store_redis's state: the pass's gathered enqueues and acknowledgements
// by slot, the notices by server, and the connections (redis_nodes.h);
// and the key names every part of the store builds (redis_store.cc).
// store_redis.cc holds the per-device operations, redis_totals.cc those
// over the whole store.
#pragma once
#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "handoff/module.h"
#include "modules/redis/redis_nodes.h"
#include "modules/common/tail_cache.h"

namespace hf_redis_store
{

// The most one stream entry holds: a device's messages of one pass past
// this start another, so a fetch (a few entries at a time) stays small.
const size_t entry_max_bytes = 1 << 20;
// One device's share of tail_cache, as store_lmdb has it.
const size_t tail_per_device = 256 << 10;

// One enqueue of a batch, until its answer.
struct pending_enqueue {
    hf_store_enqueue_cb cb;
    void *arg;
    std::string record; // the tail cache's copy (empty when the cache is off)
};

// A pass's enqueues to one device: one stream entry.
struct device_batch {
    std::string dev;  // "A|D"
    std::string blob; // a 4-byte length and a record, each message
    uint64_t expires; // the earliest expiry among them
    std::vector<pending_enqueue> items;
};

// A pass's enqueues to the devices of one slot.
struct enqueue_batch {
    int slot = -1;
    std::vector<std::string> keys; // index, counter, then q i c s x per device
    std::vector<device_batch> devs;
    std::unordered_map<std::string, size_t> dev_index;
};

// A pass's acknowledgements of the devices of one slot: per device, the
// highest wins.
// Who waits for an acknowledgement: ack's callback or ack_sent's, and the
// device (its index in the batch) whose answer it is.
struct ack_waiter {
    hf_store_done_cb done;
    void (*sent_done)(void *arg, int status, uint64_t forked_seq);
    void *arg;
    size_t device;
};

// What a fetch gave a device, up to last_seq: read from the node the
// slot had while hf_redis_topology said `topology` (0: not known).
struct read_mark {
    uint64_t last_seq;
    uint64_t topology;
};

struct ack_batch {
    int slot = -1;
    std::vector<std::string> keys;    // the depth counter, then q i c x t k per device
    std::vector<uint64_t> upto;       // per device
    std::vector<std::string> devices; // per device, its name
    std::vector<std::string> sent;    // per device, what it was sent (ack.lua's layout)
    // Per device, the topology every message it acknowledges was read
    // under (0: mixed or not known): sent is checked unless the ack goes
    // out under that same one.
    std::vector<uint64_t> read_under;
    std::unordered_map<std::string, size_t> dev_index;
    std::vector<ack_waiter> waiters;
};

struct redis_store {
    const hf_host_api *host;
    hf_store_params params;
    std::string server_id, prefix;
    bool cluster = false;
    bool closing = false; // calls made while closing are answered store_unavailable at once
    uint64_t replicas = 0;
    hf_redis_nodes *nodes = nullptr;
    hf_tail_cache tail;
    uint64_t tail_topology = 0; // the tails hold writes made under it only
    // By device key: what fetches gave each device since its last ack.
    std::unordered_map<std::string, std::deque<read_mark>> read_marks;
    event *flush_event = nullptr;
    event *format_retry = nullptr;         // format_record again while Redis is away (redis_format.h)
    std::map<int, enqueue_batch> enqueues; // by slot (every slot 0 on one Redis)
    // By slot: enqueue scripts unanswered. While a cluster is unsettled
    // (hf_redis_unsettled) a slot's next batch waits for that answer,
    // gathering passes meanwhile: a script refused CLUSTERDOWN or TRYAGAIN
    // changed nothing and is sent again, and one pipelined behind it could
    // run first, a sender's later message numbered before its earlier one
    // (docs/faults.md, N11).
    std::unordered_map<int, int> enqueues_out;
    std::map<int, ack_batch> acks;              // by slot, as enqueues
    std::map<std::string, std::string> notices; // server id -> "A|D\n..."
};

std::string dev_of(const char *account, const char *device);

// A key of an account: P{A}<kind>[:D].
std::string key_of(const redis_store *s, const std::string &account, const char *kind, const char *device = nullptr);

// A key kept per slot: P{T}<kind>.
std::string slot_key(const redis_store *s, int slot, const char *kind);

// The slot an account's calls go to: its own on a cluster; on one Redis,
// which routes nothing, 0 (and no CRC16 a message).
int slot_of(const redis_store *s, const std::string &account);

// The slot whose expiry index and depth counter count an account's
// devices (given the account's slot): its own on a cluster; on one Redis,
// where no script is bound to a slot, slot 0's for every account, so the
// sweep and the depth read one key each rather than 16,384.
int index_slot(const redis_store *s, int account_slot);

int indexed_slots(const redis_store *s);

// The server of a presence value "<server id>|<since>" ("" for none).
std::string presence_server(const std::string &value);

// A write's reply as a store status, to cb.
void done_status(hf_store_done_cb cb, void *arg, redisReply *r);

// One write the host is told of only once it is durable: answered, and
// on store.replicas replicas (WAIT), else HF_STORE_UNAVAILABLE, as an
// enqueue is. A revocation or a subscription a failover lost would
// let a stolen device in again, or make an endpoint answer 410 for good.
void durable_write(redis_store *s, const char *account, std::vector<std::string> args, hf_store_done_cb cb, void *arg);

} // namespace hf_redis_store
