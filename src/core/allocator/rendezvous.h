// Weighted rendezvous (highest random weight) hashing: every allocator
// ranks the same live servers the same way for an account, with no shared
// state; when a server goes, only its accounts move, each to its next one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct hf_rendezvous_server {
    std::string id;      // stable name: the hash input
    std::string address; // what a device dials
    uint64_t weight;     // relative capacity, > 0
};

// Stable 64-bit hash of (key, server id): FNV-1a, then a splitmix64
// finalizer so that similar names still spread.
uint64_t hf_rendezvous_hash(std::string_view key, std::string_view server_id);

// Score of one server for key: weight / -ln(u), u the hash mapped into (0,1).
double hf_rendezvous_score(std::string_view key, const hf_rendezvous_server &s);

// Indices of servers ranked for key, best first, at most max_count.
// Ties (equal scores) go to the smaller id, so the order is total.
std::vector<size_t> hf_rendezvous_rank(std::string_view key, const std::vector<hf_rendezvous_server> &servers,
                                       size_t max_count);

// The worker (0 to workers - 1) that holds account in a box of workers
// ranked as equal servers named names + k ("w0", "w1", ... in a
// standalone box; their server_ids "s1-w0", ... in a server's, as the
// allocators rank them): it depends on the names and the count alone, so
// the store layout on disk can be checked against it. -1 for no workers.
int hf_rendezvous_worker(std::string_view account, std::string_view names, int workers);
