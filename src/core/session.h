// Device sessions: HELLO, the online-device table, and the delivery window
// (at most delivery.window DELIVERs unacknowledged; the rest wait in the
// store, so a slow device costs store space, not daemon memory).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/daemon.h"

struct hf_conn;

struct hf_target_copy;

// A SEND whose sender waits to hear "delivered": resolved when the target
// acknowledges seq, or as "stored" when the target goes away first (once
// the store has made it durable).
struct hf_delivery_waiter {
    uint64_t seq;
    hf_target_copy *copy; // the SEND's copy for this target (route.cc)
};

struct hf_session {
    hf_conn *conn;
    std::string account;
    std::string device;
    std::string key; // hf_device_key(account, device)
    uint64_t granted_ms = 0;
    bool online = false; // listed in the online table

    uint64_t last_sent_seq = 0;     // highest seq sent in a DELIVER
    uint64_t acked_upto = 0;        // highest seq the device acknowledged
    std::vector<uint64_t> inflight; // DELIVERed, not yet acknowledged, ascending
    size_t inflight_head = 0;
    bool fetching = false;
    uint32_t fetch_asked = 0; // how many the outstanding fetch asked for
    bool fetch_again = false; // data arrived while a fetch was out
    bool in_fetch_call = false;
    uint64_t fetch_started_us = 0;           // for the store latency histogram
    hf_event_ptr fetch_retry;                // after a failed fetch: delivery.store_retry later, made on first use
    std::vector<hf_delivery_waiter> waiters; // ascending seq
    // Fetched messages whose DELIVER would pass max_frame (stored before
    // the limit was lowered): in inflight, never sent, set aside once
    // they are the oldest there. (seq, payload bytes), ascending.
    std::vector<std::pair<uint64_t, size_t>> too_large;
};

// A frame from a device connection (HELLO first, then the ready set).
void hf_session_on_frame(hf_conn *c, const hf_msg *m);

// The connection is going: off the online table at once, waiters told.
void hf_session_closed(hf_conn *c);

// Sends stored messages while the window has room.
void hf_session_pump(hf_session *s);

// The online session of a device on this server, or null.
hf_session *hf_session_find(hf_daemon *d, std::string_view account, std::string_view device);

// The highest seq the device acknowledged, online now or recently (0: none
// known).
uint64_t hf_session_acked_upto(hf_daemon *d, std::string_view account, std::string_view device);

// Forgets what devices that left more than a minute ago acknowledged, and
// deliveries that failed more than an hour ago.
void hf_session_prune(hf_daemon *d);

uint64_t hf_session_granted_ms(const hf_session *s);

// Renews every online device's presence in the store (a shared store
// forgets a dead server's devices when this stops).
void hf_session_refresh_presence(hf_daemon *d);

// Host API entry: the store says a device has new data.
void hf_session_data_ready(hf_daemon *d, const char *account, const char *device);
