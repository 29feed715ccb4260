#include "core/conn/token_bucket.h"

bool hf_token_bucket_take(hf_token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms, uint64_t *wait_ms)
{
    int64_t cap = int64_t(burst) * 1000;
    if (b->milli_tokens < 0) {
        b->milli_tokens = cap;
    } else {
        // rate tokens a second = rate milli-tokens a millisecond.
        int64_t refill = int64_t(now_ms - b->last_ms) * int64_t(rate);
        b->milli_tokens = b->milli_tokens + refill > cap ? cap : b->milli_tokens + refill;
    }
    b->last_ms = now_ms;
    if (b->milli_tokens >= 1000) {
        b->milli_tokens -= 1000;
        return true;
    }
    *wait_ms = rate ? uint64_t((1000 - b->milli_tokens + int64_t(rate) - 1) / int64_t(rate)) : 1000;
    return false;
}
