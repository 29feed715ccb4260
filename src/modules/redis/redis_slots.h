// Redis Cluster's key space, as store_redis routes by it: the slot of a
// key (CRC16 of the key, or of its {hash tag}, modulo 16384), the map of
// slots to the primaries that serve them (from CLUSTER SLOTS), the
// redirections a node answers with (MOVED, ASK), and one short tag per
// slot, for the keys a store keeps per slot rather than per account.
// Debian's hiredis (0.14) has no cluster client; this is ours, with its
// own unit test (test_redis_slots).
#ifndef HANDOFF_MODULES_REDIS_SLOTS_H
#define HANDOFF_MODULES_REDIS_SLOTS_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct redisReply;

const int hf_redis_slot_count = 16384;

// The slot of a key: CRC16-XMODEM of the part inside the first {...}
// when that part is not empty, else of the whole key.
int hf_redis_key_slot(const char *key, size_t len);
inline int hf_redis_key_slot(const std::string &key)
{
    return hf_redis_key_slot(key.data(), key.size());
}

// For each slot, a short string whose slot it is: "{tag}" in a key puts
// the key in that slot. Computed once (a few milliseconds).
const std::vector<std::string> &hf_redis_slot_tags();

// Which primary serves each slot: an index into addresses, or -1 while no
// node does (a cluster missing slots, or no map yet).
struct hf_redis_slot_map {
    std::vector<std::string> addresses; // "host:port"
    std::vector<int> owner = std::vector<int>(hf_redis_slot_count, -1);
    // The fewest replicas any slot range has, and the first such range.
    size_t fewest_replicas = 0;
    long long fewest_start = 0, fewest_end = 0;
};

// Reads a CLUSTER SLOTS reply: [[start, end, [host, port, id], replicas...], ...].
// An empty host means the node the reply came from (from_address).
// False with *err set when the reply has another shape.
bool hf_redis_map_from_slots(const redisReply *r, const std::string &from_address, hf_redis_slot_map *map,
                             std::string *err);

// Sets slot's owner to address, adding it to the map if new; returns its index.
int hf_redis_map_assign(hf_redis_slot_map *map, int slot, const std::string &address);

// A redirection: "MOVED <slot> <host:port>" (the slot lives there now) or
// "ASK <slot> <host:port>" (ask there once, after ASKING: a slot being
// moved). False for any other error.
struct hf_redis_redirect {
    bool ask = false;
    int slot = -1;
    std::string address;
};
bool hf_redis_parse_redirect(const char *error, size_t len, hf_redis_redirect *out);

// "host:port" into its parts; false when it is not one.
bool hf_redis_split_address(const std::string &address, std::string *host, int *port);

#endif
