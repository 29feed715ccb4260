// What a run measures besides counts: latency samples, and a daemon's
// memory and CPU time read from /proc.
#pragma once
#include <cstdint>
#include <vector>

#include "bench/report.h"

struct bench_latency {
    std::vector<uint32_t> samples_us;
};

void bench_latency_add(bench_latency *l, uint64_t us);

// p50, p90, p99, p99.9 and max into the report, in milliseconds.
void bench_latency_report(bench_latency *l, bench_report *r);

// Resident memory of pid in KiB; 0 if unknown.
uint64_t bench_rss_kib(int pid);

// One "Field: N kB" line of /proc/PID/status (RssAnon, RssFile, ...); 0
// if unknown.
uint64_t bench_status_kib(int pid, const char *field);

// How many files pid has open; 0 if unknown.
uint64_t bench_open_fds(int pid);

// User + system CPU time of pid in microseconds; 0 if unknown.
uint64_t bench_cpu_us(int pid);

// The CPU time of several processes together.
uint64_t bench_cpu_us_sum(const std::vector<int> &pids);

// The first 8 bytes of a payload: when it was sent (monotonic us).
void bench_stamp(std::string *payload, uint64_t size);
uint64_t bench_stamp_age_us(const void *payload, size_t len);
