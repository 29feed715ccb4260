// Routing a SEND: every target's copy goes through the store (which gives
// it the next sequence of that device's queue and de-duplicates resends),
// then out at once if the target is online here. SEND_ACK answers when
// every target is settled: delivered (acknowledged), stored, or rejected.
//
// The router owns what is in flight between a SEND and its SEND_ACK: the
// pending sends, their targets' copies, the copies waiting for a target's
// acknowledgement (by target session), the batch of acknowledged copies,
// and the two timers (delivery.ack_wait, delivery.ack_batch). Sessions
// tell it of three events, below; it asks the online table who is here and
// the delivery window to pump.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/msg.h"

struct hf_router;
struct hf_server;
struct hf_session;

// A SEND, from a device's frame or an API call; the views are valid only
// during the call that takes it.
struct hf_send_request {
    std::string_view account;
    std::string_view from; // the sending device, or "@" and an API key's id
    std::string_view to;   // a device of the account, or "*"
    uint64_t id;
    std::string_view collapse;
    std::string_view payload;
    bool has_ttl;
    uint64_t ttl; // seconds
    bool has_collapse;
};

// What an API caller hears, once: a SEND_ACK's contents.
struct hf_send_outcome {
    hf_send_status status;
    int code;         // HF_OK unless rejected
    const char *text; // why, when rejected
    uint32_t delivered, stored, rejected;
    uint64_t retry_ms; // store_full, store_unavailable: when to try again
};
using hf_send_answer_fn = void (*)(void *arg, const hf_send_outcome *outcome);

hf_router *hf_router_new(hf_server *srv);

// Shutdown: lets go of every send still waiting (their senders are gone).
// The store may still complete enqueues into the router until it closes.
void hf_router_release_all(hf_router *r);

// Once the store is closed: the router goes.
void hf_router_free(hf_router *r);

// A SEND from sender.
void hf_router_send(hf_router *r, hf_session *sender, const hf_msg *m);

// A SEND from an API call (its own rate limit is the caller's): answered
// through answer_fn exactly once, at once or later (at shutdown,
// shutting_down).
void hf_router_submit(hf_router *r, const hf_send_request *m, hf_send_answer_fn answer_fn, void *answer_arg);

// The target acknowledged everything up to seq: its waiters are delivered.
void hf_router_acknowledged(hf_router *r, hf_session *target, uint64_t upto);

// The target refused seq (after acknowledging every seq before it): the
// copy is in its dead letters, and its sender hears "stored". Its later
// cumulative acknowledgements, which pass over seq, do not touch it.
void hf_router_refused(hf_router *r, hf_session *target, uint64_t seq);

// The target went away: its waiters count as stored.
void hf_router_target_gone(hf_router *r, hf_session *target);

// Sends waiting for their targets' acknowledgement (a metric).
size_t hf_router_awaiting_ack(const hf_router *r);
