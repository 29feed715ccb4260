#include "core/common/stats.h"

void hf_histogram_observe(hf_histogram *h, uint64_t us)
{
    for (size_t i = 0; i < hf_histogram::bucket_count; i++)
        if (us <= hf_histogram::bounds_us[i])
            h->buckets[i]++;
    h->count++;
    h->sum_us += us;
}
