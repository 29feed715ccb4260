// What the allocator part shares: its config, its counters, and the
// connection servers it knows from their REGISTERs.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "core/common/config.h"
#include "core/common/stats.h"

struct hf_conn;

// A connection server as an allocator knows it from its REGISTERs.
struct hf_registered_server {
    std::string address;
    std::string websocket_url; // for browsers; empty if it has no WebSocket listener
    std::string api_url;       // its HTTP API, where other servers hand calls on; empty if none
    std::string store_format;  // REGISTER's: "handoff-redis 1", "own", or empty (a server from before it)
    uint64_t weight = 1;
    uint64_t load = 0;
    bool draining = false;
    uint64_t expires_ms = 0; // monotonic: lapses unless refreshed by then
    hf_conn *conn = nullptr; // the connection its REGISTERs come on
};

struct hf_allocator {
    const hf_config *cfg = nullptr;
    hf_stats *stats = nullptr;
    std::map<std::string, hf_registered_server> servers; // by server id
};
