// Idempotency-Key (docs/api.md): a backend's string key for a posted
// message, mapped to the message id the store de-duplicates by. The first
// call with a key picks the id; a retry with the same key, from the same
// API key to the same account, within delivery.dedup_window, gets the
// same id, so the store answers it as the original. Held in memory by the
// worker that holds the account (about 200 bytes and twice the key's
// length each: the map's and the expiry order's copy), at most
// api.idempotency_keys of them
// (the oldest go first): a retry after a restart of that process, or of a
// key evicted, is a new message.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

// The longest key taken (bytes), as the IETF draft and Stripe allow.
constexpr size_t hf_idempotency_key_max = 255;

struct hf_idempotency {
    struct entry {
        uint64_t id;
        uint64_t expires_ms;
    };
    std::unordered_map<std::string, entry> ids; // by the scope + key (scoped_key)
    // Each id's key with its expires_ms, oldest first (a key picked anew
    // after it expired is here twice; only the matching one counts).
    std::deque<std::pair<std::string, uint64_t>> order;
    size_t max_keys = 0;  // api.idempotency_keys
    uint64_t keep_ms = 0; // delivery.dedup_window
};

// The id for key, from API key api_key to account, at now_ms, in *id: the
// one picked before (false), or fresh, then remembered (true).
bool hf_idempotency_pick(hf_idempotency *m, const std::string &api_key, const std::string &account,
                         const std::string &key, uint64_t fresh, uint64_t now_ms, uint64_t *id);
