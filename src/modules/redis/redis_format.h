// The Redis store's key-schema version: the key P"format" (P is
// store.prefix) holds "handoff-redis N", set by the first server that
// opens the store (SET NX). A handoffd refuses a newer schema than it
// reads: handoffd -t and every start ask Redis (store_redis's check op,
// exit 78) before anything reads a key, and a server that opened the
// store while Redis was away finds out when it comes (hf_host_api.fatal).
// Keys with no record are format 0, from before versions, or a new store:
// 0 -> 1 converts nothing and only records it.
#pragma once
#include <string>

#include "modules/redis/redis_nodes.h"

namespace hf_redis_store
{

struct redis_store;

extern const int redis_format; // what this handoffd writes and reads

// Asks Redis (one connection at a time, the check's own) which format the
// keys under prefix are in. 0, or -1 with err when it is newer than
// redis_format. Redis out of reach answers 0: the start says it is.
int format_check(const hf_redis_nodes_config &config, const std::string &prefix, char *err, size_t err_len);

// "handoff-redis N": what the format key holds, and what a server
// registers with its allocators (hf_store_ops.format).
const char *format_name(void *store);

// Records redis_format unless a format is recorded, logging a take-up;
// a newer one found stops the host (fatal).
void format_record(redis_store *s);

} // namespace hf_redis_store
