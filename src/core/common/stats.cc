#include "core/common/stats.h"

void hf_histogram_observe(hf_histogram *h, uint64_t us)
{
    for (size_t i = 0; i < hf_histogram::bucket_count; i++)
        if (us <= hf_histogram::bounds_us[i])
            h->buckets[i]++;
    h->count++;
    h->sum_us += us;
}

const char *hf_push_outcome_name(hf_push_outcome o)
{
    static const char *const names[] = {"accepted",     "cancelled", "too_large",   "unauthorized", "gone",
                                        "rate_limited", "not_found", "bad_request", "failed"};
    static_assert(sizeof names / sizeof names[0] == size_t(hf_push_outcome::count));
    return names[size_t(o)];
}
