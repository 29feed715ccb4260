// The box: what the workers of one supervisor share, in one anonymous
// shared mapping made before the first fork. Each worker has a slot: its
// last metrics sample, which it publishes every second, and its state,
// which the supervisor keeps. Whichever worker takes a scrape reads them
// all, so /metrics and /healthz answer for the whole box.
//
// A slot is written by one process and read by the others under a
// sequence count (a seqlock): a reader copies it again if it changed
// meanwhile, so it never sees half of one sample and half of the next.
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "core/box/metrics_sample.h"

struct hf_box;

// A worker as the box last saw it.
struct hf_worker_state {
    int64_t pid = 0;                     // 0: not running
    uint64_t restarts = 0;               // times the supervisor started it again
    uint64_t report_age_ms = UINT64_MAX; // since its last sample; UINT64_MAX: none yet
};

// Maps a box for workers; null (and errno) if it cannot.
hf_box *hf_box_create(int workers);
void hf_box_free(hf_box *box);
int hf_box_workers(const hf_box *box);

// The supervisor's side: worker k runs as pid (a restart when restarted), or has exited.
void hf_box_started(hf_box *box, int k, pid_t pid, bool restarted);
void hf_box_exited(hf_box *box, int k);

// Worker k's side: its sample, for the others to read.
void hf_box_publish(hf_box *box, int k, const hf_metrics_sample &sample);
// Worker k takes API calls handed on by worker 0 on this loopback port.
void hf_box_set_api_port(hf_box *box, int k, int port);
int hf_box_api_port(const hf_box *box, int k); // 0: none yet

// Worker k's last sample (as published; all zero before the first) and state.
void hf_box_read(const hf_box *box, int k, hf_metrics_sample *sample, hf_worker_state *state);
