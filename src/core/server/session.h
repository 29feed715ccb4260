// A device online on this server: who it is, and its delivery window (at
// most delivery.window DELIVERs unacknowledged; the rest wait in the store,
// so a slow device costs store space, not daemon memory).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/common/event_ptr.h"
#include "core/conn/token_bucket.h"

struct hf_conn;
struct hf_server;

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
    uint64_t issued_at_ms = 0;           // its token's (revocation.h)
    uint64_t requested_heartbeat_ms = 0; // HELLO's
    // Admitted while the store could not say whether it is revoked:
    // nothing is delivered to it or taken from it until it can.
    bool revocation_unchecked = false;
    hf_event_ptr revocation_retry; // made on first use
    bool following = false;        // told of its account's presence changes (presence.h)
    bool presence_pending = false; // a PRESENCE_REQ being answered
    hf_token_bucket send_bucket;   // limits.send_rate

    uint64_t last_sent_seq = 0;     // highest seq sent in a DELIVER
    uint64_t acked_upto = 0;        // highest seq the device acknowledged
    std::vector<uint64_t> inflight; // DELIVERed, not yet acknowledged, ascending
    size_t inflight_head = 0;
    bool fetching = false;
    uint32_t fetch_asked = 0; // how many the outstanding fetch asked for
    bool fetch_again = false; // data arrived while a fetch was out
    bool in_fetch_call = false;
    uint64_t fetch_started_us = 0; // for the store latency histogram
    hf_event_ptr fetch_retry;      // after a failed fetch: delivery.store_retry later, made on first use
    // Fetched messages whose DELIVER would pass max_frame (stored before
    // the limit was lowered): in inflight, never sent, set aside once
    // they are the oldest there. (seq, payload bytes), ascending.
    std::vector<std::pair<uint64_t, size_t>> too_large;
};

static inline size_t hf_session_inflight(const hf_session *s)
{
    return s->inflight.size() - s->inflight_head;
}
