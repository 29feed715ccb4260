// store_redis's operations over the whole store, each over every slot
// that indexes devices: the TTL sweep, the queue depth, the memory used.
#pragma once
#include <cstdint>

namespace hf_redis_store
{

// Each slot keeps an index of its devices by their earliest expiry (no
// key spans slots, so a cluster's nodes sweep what they hold): the
// devices due are read first, and only their queues are touched.
void store_expire(void *store, uint64_t now_ms, void (*cb)(void *, int, uint64_t), void *arg);

// The depth counters of every slot, added up.
void store_depth(void *store, void (*cb)(void *, int, uint64_t), void *arg);

// Redis's own memory: every primary's, which servers sharing it (and
// anything else kept there) use together.
void store_usage(void *store, void (*cb)(void *, int, uint64_t, uint64_t), void *arg);

} // namespace hf_redis_store
