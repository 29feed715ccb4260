// libhandoff's state of one device: what hf_client holds between calls.
// failover.cc moves it between allocators and servers, frames.cc answers
// what they send, client.cc is the public API (include/handoff/client.h).
#pragma once
#include <event2/event.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/deliveries.h"
#include "client/key_file.h"
#include "client/hb_probe.h"
#include "handoff/client.h"
#include "net/link.h"

namespace hf_clientlib
{

const uint32_t default_connect_timeout_ms = 5000;
const uint32_t default_ping_timeout_ms = 10000;
const uint32_t default_backoff_base_ms = 500;
const uint32_t default_backoff_cap_ms = 30000;
// Until WELCOME says otherwise, accept frames this large.
const size_t default_max_frame = HF_DEFAULT_MAX_FRAME;

struct outgoing {
    std::string to;
    std::string payload;
    uint32_t ttl_s;
    std::string collapse;
    bool sent = false; // written to some server before
};

enum class link_role { none, allocator, server };

// An end-to-end send (or approval) waiting for the account's keys.
struct e2e_send {
    uint64_t id; // the application's
    std::string to, plaintext, collapse;
    uint32_t ttl_s;
    bool approval;      // plaintext is an approval (proto/e2e.h)
    std::string except; // with "*": not to this device (the one approved)
};

// How the copies of one end-to-end send were answered so far.
struct e2e_tally {
    size_t unanswered = 0;
    bool stored = false;
    int code = 0;     // the first refusal's
    std::string text; // its text, or which devices were left out
};

// A DELIVER held until its sender's key is read, with every one behind
// it: acknowledgements are cumulative, and the order is kept.
struct held_message {
    hf_link *link; // the one it came on: gone, it is dropped (and comes again)
    std::string from, app, payload;
    uint64_t seq, id, stored_at_ms;
    int urgency, e2e;
};

} // namespace hf_clientlib

struct hf_client {
    event_base *base;
    hf_client_callbacks cb;
    void *user;
    std::vector<std::string> allocators;
    std::string token;
    uint32_t heartbeat_ms, connect_timeout_ms, ping_timeout_ms;
    uint32_t backoff_base_ms, backoff_cap_ms;
    SSL_CTX *tls = nullptr;
    const hf_link_callbacks *link_callbacks = nullptr; // frames.cc's

    int state = HF_CLIENT_IDLE;
    hf_link *link = nullptr;
    hf_clientlib::link_role role = hf_clientlib::link_role::none;
    uint64_t link_max_seq = 0; // highest DELIVER seq on this link
    // A server that sent GOAWAY, kept until the next one says WELCOME
    // (make before break): its last SEND_ACKs and DELIVERs still count.
    hf_link *old_link = nullptr;
    hf_link *delivering_link = nullptr; // during on_message: acks go back on it
    // DELIVERs not yet acknowledged by the application: the current (or
    // last) server link's and the old link's; and the keys of those it
    // acknowledged, so that copies are not shown again.
    hf_link_deliveries deliveries, old_deliveries;
    hf_acked_ids acked;
    std::string link_address;
    event *step_timer = nullptr; // attempt deadline, backoff delay, pong deadline
    event *ping_timer = nullptr;

    size_t allocator_index = 0;
    size_t allocators_tried = 0; // in this round
    std::vector<std::string> addresses;
    size_t address_index = 0;
    bool addresses_fresh = false; // the allocator's answer of this round, not one kept since a WELCOME
    uint32_t backoff_attempt = 0;
    uint64_t retry_floor_ms = 0; // the next backoff waits at least this (a refusal's retry_ms)

    uint64_t granted_heartbeat_ms = 0;
    size_t max_frame = hf_clientlib::default_max_frame;
    std::string server_name; // the name certificates must carry; empty: each address's host
    // The latest TLS session ticket, offered on the next connection: a
    // resumed handshake skips the certificate (less CPU, a mobile
    // device's battery included).
    SSL_SESSION *tls_session = nullptr;
    uint64_t next_id;
    std::map<uint64_t, hf_clientlib::outgoing> unacked; // by id: resent in this order
    uint64_t next_ping_id = 1;
    uint64_t heartbeat_ping_id = 0;  // outstanding heartbeat ping, 0 if none
    bool ping_asks_interval = false; // that ping asks for a new interval
    // Adaptive heartbeat: active when WELCOME gives a range to probe; what
    // it learnt survives reconnects.
    hf_hb_probe probe;
    bool probing = false;
    uint64_t user_ping_id = 0;
    uint64_t user_ping_sent_us = 0;
    uint64_t server_features = 0;                                   // the current server's WELCOME features
    size_t max_payload = HF_DEFAULT_MAX_FRAME - HF_DELIVER_RESERVE; // the current server's, or the default
    // The last failure (hf_client_last_error), and a permanent one met in
    // this round of addresses: once the round fails, the client stops on
    // it instead of backing off.
    int last_error = 0;
    std::string last_error_text;
    int permanent_error = 0;
    std::string permanent_error_text;
    // Presence: whom to tell, and whether to ask again after a reconnect.
    hf_client_presence_cb presence_cb = nullptr;
    bool presence_follow = false;
    std::string device_key;                              // published in every HELLO (hf_client_set_device_key)
    std::string device_name;                             // as WELCOME said it
    std::map<std::string, std::string> peer_keys;        // the account's devices' keys, as PRESENCE said
    std::vector<std::string> account_devices;            // as the key file's last PRESENCE answer listed them
    hf_client_subscription_cb subscription_cb = nullptr; // the SUBSCRIBE out (subscribe_id), if any
    uint64_t subscribe_id = 0;
    const hf_link *subscribe_link = nullptr; // the link it went on
    std::string subscribe_app;               // its app (the key file keeps its secret)
    hf_client_wake_cb wake_cb = nullptr;     // the WAKE out (wake_id), if any
    uint64_t wake_id = 0;
    const hf_link *wake_link = nullptr;
    bool subscribe_remove = false;
    // Who asked for each PRESENCE answer still to come, in order: true
    // the application (presence_cb hears it), false the key file's
    // reading of the account's keys (e2e.cc).
    std::deque<bool> presence_askers;
    // End-to-end (e2e.cc), with a key file (hf_client_use_keys).
    std::unique_ptr<hf_key_file> keys;
    std::string fingerprint; // this device's
    hf_client_key_change_cb key_change_cb = nullptr;
    hf_client_refused_cb refused_cb = nullptr;
    std::vector<hf_clientlib::e2e_send> e2e_waiting; // for the keys
    std::map<uint64_t, uint64_t> e2e_copy_of;        // a copy's message id -> its send's id
    std::map<uint64_t, hf_clientlib::e2e_tally> e2e_tallies;
    std::vector<hf_clientlib::held_message> held;
};
