// The tail cache of a store: for each device, the messages stored since
// its last fetch that reached the end of its queue. A connected device is
// fetched right after every write that adds to its queue (and after every
// acknowledgement), so nearly every fetch asks only for what the last
// writes added; served from here, it costs no store read at all. "Stored"
// is the store's to say: LMDB counts a write applied in its open window.
//
// A device's tail "covers from F": every stored message of the device
// with seq >= F is in it (collapsed ones taken out). A fetch after seq A is
// served from the tail when A + 1 >= F. Tails are bounded: one that grows
// past per_device bytes (a device that stopped fetching) or would take the
// cache past budget is dropped, and its fetches read the store again until
// one reaches the end of its queue. When every tail together would pass
// the budget, the least recently fetched go first (devices that left keep
// theirs only while there is room).
#ifndef HANDOFF_MODULES_TAIL_CACHE_H
#define HANDOFF_MODULES_TAIL_CACHE_H

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

struct hf_tail_entry {
    uint64_t seq;
    std::string record; // the store's own encoding of the message
};

struct hf_tail {
    uint64_t from = 0;
    uint64_t next = 0;                            // the seq the next write must have to join it
    std::vector<hf_tail_entry> entries;           // seq ascending; no allocation while empty
    size_t bytes = 0;                             // this tail's share of the cache's bytes
    std::list<const std::string *>::iterator lru; // its place in hf_tail_cache.lru
};

struct hf_tail_cache {
    size_t budget = 0;     // bytes, every tail together; 0 turns the cache off
    size_t per_device = 0; // bytes one tail may hold
    size_t bytes = 0;
    std::unordered_map<std::string, hf_tail> tails; // by the store's device key
    std::list<const std::string *> lru;             // keys of tails, least recently fetched first
};

// A fetch of dev read every stored message up to the end of its queue;
// next_seq is one past the last it saw (or past its after_seq).
void hf_tail_covered(hf_tail_cache *c, const std::string &dev, uint64_t next_seq);

// After a write: a message it added (one the tail covers already is
// ignored). A seq past the one that would follow the tail's last means
// someone else wrote between (another server sharing the store): the tail
// no longer covers the queue and is dropped.
void hf_tail_append(hf_tail_cache *c, const std::string &dev, uint64_t seq, std::string record);

// Drops dev's tail: its queue changed where this cache did not see it.
void hf_tail_drop(hf_tail_cache *c, const std::string &dev);

// After a write: a message it deleted (a collapse key replaced it).
void hf_tail_remove(hf_tail_cache *c, const std::string &dev, uint64_t seq);

// The tail holding every stored message of dev after after_seq, with
// those up to after_seq (already sent) dropped; nullptr when the tail does
// not cover them and the store must be read.
const hf_tail *hf_tail_after(hf_tail_cache *c, const std::string &dev, uint64_t after_seq);

// Drops every tail: the store lost writes it had published (a failed
// commit), so what the tails hold may not be stored.
void hf_tail_clear(hf_tail_cache *c);

#endif
