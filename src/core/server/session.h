// A device online on this server: who it is, and its delivery window (at
// most delivery.window DELIVERs unacknowledged; the rest wait in the store,
// so a slow device costs store space, not daemon memory).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/common/fifo.h"
#include "core/common/event_ptr.h"
#include "core/conn/conn.h"
#include "core/conn/token_bucket.h"
#include "core/server/enqueue_arg.h"

struct hf_conn;
struct hf_server;
struct hf_session;

// A message on its way to the device's dead-letter list: why, and its
// entry once known (a refused message is read back from the store first).
struct hf_dead_letter_job : hf_enqueue_arg {
    hf_session *session = nullptr;
    uint64_t seq = 0;
    int code = 0;
    std::string reason;
    bool have_entry = false;
    std::string from;
    uint64_t msg_id = 0, stored_at_ms = 0;
    std::string entry; // its payload in the list (dead_letter.h)
};

// A message as it was sent to the device: a store whose seqs forked (a
// Redis primary cut off from the others, and its promoted replica) can
// hold another message as the same seq, and only sender and id tell.
struct hf_sent_message {
    uint64_t seq;
    std::string from;
    uint64_t msg_id;
};

struct hf_session {
    hf_conn *conn;
    hf_server *srv;
    std::string account;
    std::string device;
    std::string key; // hf_device_key(account, device)
    uint64_t granted_ms = 0;
    bool online = false; // listed in the online table
    // HELLO waits for the store's word on the device's revocation, and
    // the frames behind it (encoded) wait with it.
    bool hello_pending = false;
    std::vector<std::string> early_frames;
    uint64_t issued_at_ms = 0; // its token's (revocation.h)
    // HELLO's device_key, published once the HELLO is admitted (device_keys.h).
    std::unique_ptr<std::string> device_key;
    uint64_t requested_heartbeat_ms = 0; // HELLO's
    // Admitted while the store could not say whether it is revoked:
    // nothing is delivered to it or taken from it until it can.
    bool revocation_unchecked = false;
    hf_event_ptr revocation_retry;  // made on first use
    hf_event_ptr add_device_retry;  // after a failed add_device: delivery.store_retry later, made on first use
    bool following = false;         // told of its account's presence changes (presence.h)
    bool presence_pending = false;  // a PRESENCE_REQ being answered
    bool subscribe_pending = false; // a SUBSCRIBE being answered (subscriptions.h)
    bool wake_pending = false;      // a WAKE being answered (wake.h)
    hf_token_bucket send_bucket;    // limits.send_rate
    uint32_t unanswered_sends = 0;  // its SENDs without a SEND_ACK yet (limits.max_unanswered_sends)

    uint64_t last_sent_seq = 0; // highest seq sent in a DELIVER
    uint64_t acked_upto = 0;    // highest seq the device acknowledged
    // DELIVERed, not yet acknowledged, ascending by seq. The router checks
    // a device's acknowledgement against what was sent as each seq (see
    // hf_delivery_sent_as).
    std::vector<hf_sent_message> inflight;
    // Acknowledged by the device, not yet told to a store that checks what
    // it drops (hf_store_ops.ack_sent), ascending by seq.
    hf_fifo<hf_sent_message> acked_unstored;
    size_t inflight_head = 0;
    bool fetching = false;
    uint32_t fetch_asked = 0; // how many the outstanding fetch asked for
    bool fetch_again = false; // data arrived while a fetch was out
    bool in_fetch_call = false;
    uint64_t fetch_started_us = 0; // for the store latency histogram
    hf_event_ptr fetch_retry;      // after a failed fetch: delivery.store_retry later, made on first use
    bool queue_stopped = false;    // at a stored message that does not decode (HF_STORE_UNDECODABLE)
    // Messages the device cannot take, on their way to its dead-letter
    // list (dead_letters.h), ascending; out of inflight. The front one is
    // in the store's hands while dead_letter_busy. The store hears of no
    // acknowledgement past the front one until its copy is durable.
    hf_fifo<hf_dead_letter_job> dead_letter_jobs;
    bool dead_letter_busy = false;
    hf_event_ptr dead_letter_retry; // after a failed store call, made on first use
    // Moved, waiting for the device to acknowledge every seq before them.
    std::vector<uint64_t> dead_lettered;
    uint64_t store_acked_upto = 0; // the acknowledgement the store was told
};

static inline size_t hf_session_inflight(const hf_session *s)
{
    return s->inflight.size() - s->inflight_head;
}

// A device's request answered later (PRESENCE_REQ, SUBSCRIBE, WAKE): its
// id is 1 or more, and none of its kind is still out (pending). Else
// the connection fails, and false.
static inline bool hf_session_request_admitted(hf_session *s, const hf_msg *m, bool pending)
{
    if (m->id == 0)
        hf_conn_fail(s->conn, HF_ERR_BAD_FIELD, std::string(hf_msg_type_name(m->type)) + " id must be 1 or more");
    else if (pending)
        hf_conn_fail(s->conn, HF_ERR_RATE_LIMITED,
                     std::string("a ") + hf_msg_type_name(m->type) + " is still being answered; ask one at a time");
    return m->id != 0 && !pending;
}
