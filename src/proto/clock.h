// Clocks: monotonic for deadlines, wall for message timestamps and tokens.
#pragma once
#include <cstdint>
#include <sys/time.h>

#include <ctime>

static inline uint64_t hf_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

// Fine-grained monotonic time, for latencies (round trips, store calls).
static inline uint64_t hf_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
}

static inline uint64_t hf_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

// A duration in ms as the timeval libevent takes.
static inline struct timeval hf_timeval_ms(uint64_t ms)
{
    return timeval{time_t(ms / 1000), suseconds_t(ms % 1000 * 1000)};
}

// A duration in us as the timeval libevent takes.
static inline struct timeval hf_timeval_us(uint64_t us)
{
    return timeval{time_t(us / 1000000), suseconds_t(us % 1000000)};
}

// A duration in (fractional) seconds as a timeval.
static inline struct timeval hf_timeval_s(double s)
{
    return hf_timeval_us(uint64_t(s * 1e6));
}
