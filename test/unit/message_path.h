// The message path's test bench, for test_router and test_delivery: the
// daemon's server part (core/server, from libhfcore) on an event loop of
// its own, opened as the daemon opens it (hf_server_open: store_memory and
// hb_fixed loaded from HANDOFF_MODULE_DIR), with devices attached through
// bufferevent pairs instead of sockets. Each device's other end records
// the frames the server sends it. No TLS, no process, no port.
//
// The store is store_memory behind a gate the tests steer: an op can be
// made to fail, and enqueue completions can be held the way a store with
// a disk holds them until its sync (enqueue_applied and data_ready at
// once, the completion on release).
#pragma once
#include <event2/bufferevent.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/common/config.h"
#include "core/common/stats.h"
#include "core/common/timeouts.h"
#include "core/conn/conn.h"
#include "core/server/router.h"
#include "core/server/server.h"
#include "proto/msg.h"

// One frame the server sent a device: its bytes, and them decoded (m's
// views point into bytes).
struct recorded_frame {
    std::string bytes;
    hf_msg m;
};

struct bench;

struct test_device {
    bench *b = nullptr;
    std::string account, name;
    bufferevent *ours = nullptr;                       // the test's end of the pair
    hf_conn *conn = nullptr;                           // the server's connection (its end)
    std::deque<std::unique_ptr<recorded_frame>> got;   // not taken yet
    std::deque<std::unique_ptr<recorded_frame>> taken; // kept while the test reads them
};

// An enqueue completion the gate holds.
struct held_completion {
    hf_store_enqueue_cb cb;
    void *arg;
    int status;
    uint64_t seq;
    int acked;
};

struct store_gate {
    int fail_enqueue = HF_STORE_OK; // not OK: enqueues answer this, storing nothing
    int fail_fetch = HF_STORE_OK;   // likewise fetches, once each time set
    int fail_list = HF_STORE_OK;    // likewise list_devices
    int fail_add = HF_STORE_OK;     // likewise add_device, once each time set
    bool hold = false;              // enqueue completions wait for gate_release
    // With hold: enqueue_applied is told the seq plus this, as a store whose
    // seqs forked would tell it (two messages numbered alike).
    int64_t applied_shift = 0;
    std::vector<held_completion> held;
    // With gate_check_acks: the messages each ack_sent was told of, as
    // "seq:from:id" lines; and the seq it says forked (0: none), dropping
    // only the seqs before it.
    std::vector<std::string> acks_sent;
    uint64_t fork_at = 0;
};

struct bench {
    event_base *base = nullptr;
    hf_config cfg;
    hf_stats stats;
    hf_timeouts timeouts;
    hf_conn_pool conns;
    hf_server srv;
    const hf_store_ops *memory_ops = nullptr; // store_memory's own
    hf_store_ops gated_ops{};                 // the same, with the gate's in front
    store_gate gate;
    std::vector<std::unique_ptr<test_device>> devices;
};

// A bench whose config is the defaults plus config_text (libconfig
// syntax; store.module is memory unless it says otherwise).
bench *bench_start(const std::string &config_text = "");
void bench_stop(bench *b);

// Runs the loop until nothing is left to do at once (timers not due stay).
void bench_settle(bench *b);
// Runs the loop for ms, timers included.
void bench_run_for(bench *b, uint64_t ms);

// A device of account that has said HELLO with a good token and been
// welcomed (the WELCOME is taken off what it got).
test_device *device_online(bench *b, const std::string &account, const std::string &name);
// Sends m from the device, and settles.
void device_send(test_device *d, const hf_msg *m);
// A SEND of payload to `to`, with id; ttl and collapse as hf_msg_send.
void device_send_to(test_device *d, const std::string &to, uint64_t id, const std::string &payload);
// The device's connection ends from its side (a dropped link).
void device_drop(test_device *d);
// Whether the server has closed the device's connection.
bool device_cut(const test_device *d);

// The oldest frame the device got that it has not taken, which must be of
// type; taken off its list. Fails the test if there is none or it is of
// another type.
const hf_msg *device_take(test_device *d, uint8_t type);
// How many frames the device got and has not taken.
size_t device_pending(test_device *d);

// Enqueue completions the gate held, given now, in order.
void gate_release(bench *b);
// From now on the store checks what it drops, as a store whose seqs can
// fork does (hf_store_ops.ack_sent).
void gate_check_acks(bench *b);

// A SEND_ACK's parts, checked at once.
void assert_send_ack(const hf_msg *ack, uint64_t id, hf_send_status status, int code, uint64_t delivered,
                     uint64_t stored, uint64_t rejected);
