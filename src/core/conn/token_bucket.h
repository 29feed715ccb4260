// A token bucket: `rate` tokens a second, at most `burst` saved up
// (limits.frame_rate and limits.send_rate).
#pragma once
#include <cstdint>

struct hf_token_bucket {
    int64_t milli_tokens = -1; // -1: not started (full on first use)
    uint64_t last_ms = 0;
};

// Takes one token if there is one. Otherwise false, and *wait_ms says when
// the next one comes.
bool hf_token_bucket_take(hf_token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms, uint64_t *wait_ms);
