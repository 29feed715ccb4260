// workers = N: one supervisor process and N worker processes, each a
// whole daemon with its own reactor, file table, store and ports. Worker k
// is a connection server on the ports of listen.device and
// listen.websocket plus k; all of them take address requests on the one
// allocator socket the supervisor opened, and rank the workers by
// rendezvous on the account, so an account's devices meet on one worker
// (docs/architecture.md, "Workers", says why this and not another way).
// They also share the metrics socket and a box (box.h) of their samples,
// so that any of them answers /metrics and /healthz for all.
//
// The supervisor checks the config once, keeps the pidfile, restarts a
// worker that dies, passes SIGHUP on once the file still loads, and turns
// SIGTERM or SIGINT into every worker's drain, returning when they have
// all exited.
#pragma once
#include <string>

#include "core/common/config.h"

struct hf_box;

// What a worker process is handed: its config (hf_worker_config's), the
// sockets the supervisor opened for all (-1: none), the box, and where to
// say whether it started ("" or why not, then closed; -1 on a restart).
struct hf_worker_start {
    hf_config cfg;
    int allocator_fd = -1, metrics_fd = -1;
    hf_box *box = nullptr;
    int ready_fd = -1;
};

// Runs one worker to its end (the daemon, in core/shell): its exit status.
using hf_worker_main = int (*)(const hf_worker_start &start);

struct hf_supervisor_options {
    std::string pidfile;                  // empty: none
    int report_fd = -1;                   // detached: the pipe to the waiting parent (see detach.h)
    bool use_syslog = false;              // errors of start-up also go to the log
    hf_worker_main worker_main = nullptr; // what each worker process runs
};

// The number of workers workers = 0 asks for: one per online core.
int hf_workers_wanted(const hf_config &cfg);

// Runs cfg's workers until they are told to stop; the process's exit status.
int hf_supervise(const hf_config &cfg, int workers, const hf_supervisor_options &options);

// Worker k's own config: cfg with its ports shifted by k, its server_id,
// its store folder (a store it does not share), and the other workers'
// addresses for the allocator.
hf_config hf_worker_config(const hf_config &cfg, int k, int workers);
