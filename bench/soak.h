// What a long flow (pairs or fanout with --seconds) watches and does
// beside its traffic: every --sample seconds, the daemon's anonymous and
// file-backed RSS, its open files, the store's size (its /metrics at
// --metrics, its file at --store-file) and the store_full count, one row
// each; and --churn devices a second connecting, saying HELLO and going.
// At the end: whether each stayed flat from the first row to the last.
#pragma once
#include <cstdint>

#include "bench/bench.h"
#include "bench/report.h"

struct bench_soak;

// Starts the sampler and the churn; `delivered` is the flow's count.
bench_soak *bench_soak_start(bench_ctx *ctx, const uint64_t *delivered);

// Stops, takes the last row, adds the summary to r and frees the soak.
// Returns 0, or 1 when a sender got store_full or a churn device failed.
int bench_soak_finish(bench_soak *soak, bench_report *r);
