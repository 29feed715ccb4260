// Routing a SEND: every target's copy goes through the store (which gives
// it the next sequence of that device's queue and de-duplicates resends),
// then out at once if the target is online here. SEND_ACK answers when
// every target is settled: delivered (acknowledged), stored, or rejected.
#pragma once
#include "core/session.h"

void hf_route_send(hf_session *sender, const hf_msg *m);

// The target acknowledged everything up to seq: its waiters are delivered.
void hf_route_acknowledged(hf_session *target, uint64_t upto);

// The target went away: its waiters count as stored.
void hf_route_target_gone(hf_session *target);

// The store queued a target's copy as seq and shows it to fetches, ahead
// of the enqueue's (durable) completion: the target may acknowledge it
// before then, and the sender hear "delivered" at once. copy is the
// enqueue's callback argument. True when the sender's answer waits for
// the completion instead (no target here to acknowledge).
bool hf_route_enqueue_applied(void *copy, uint64_t seq);

// delivery.ack_batch passed: the acknowledged copies gathered are settled.
void hf_route_ack_batch_due(evutil_socket_t, short, void *daemon);

// delivery.ack_wait passed for the oldest waiting sends.
void hf_route_ack_wait_expired(evutil_socket_t, short, void *daemon);

// Shutdown: lets go of every send still waiting (their senders are gone).
void hf_route_release_all(hf_daemon *d);
