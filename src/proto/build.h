// Building the messages the daemon and the client send: each builder sets
// the fields and marks them present, so no caller writes hf_msg_set runs.
#pragma once
#include <string_view>

#include "proto/msg.h"

// ERROR(code, text).
hf_msg hf_msg_error(int code, std::string_view text);

// GOAWAY(code, text): go elsewhere (hf_msg_add_addresses says where).
hf_msg hf_msg_goaway(int code, std::string_view text);

// DELIVER of a stored message; collapse empty: none.
hf_msg hf_msg_deliver(uint64_t seq, std::string_view from, std::string_view payload, uint64_t stored_at_ms, uint64_t id,
                      std::string_view collapse);

// SEND_ACK(id, status); the hf_msg_add_ calls below add its other fields.
hf_msg hf_msg_send_ack(uint64_t id, hf_send_status status);

// code and text: why it was refused, or what went wrong.
void hf_msg_add_reason(hf_msg *m, int code, std::string_view text);

// retry_ms: when to try again.
void hf_msg_add_retry(hf_msg *m, uint64_t retry_ms);

// A SEND_ACK's per-target outcome counts.
void hf_msg_add_counts(hf_msg *m, uint64_t delivered, uint64_t stored, uint64_t rejected);

// backoff_base_ms and backoff_cap_ms: how a fleet paces its reconnects.
void hf_msg_add_backoff(hf_msg *m, uint64_t base_ms, uint64_t cap_ms);

// The addresses (at most HF_MAX_ADDRESSES of them), in order; none: no field.
void hf_msg_add_addresses(hf_msg *m, const std::string *addresses, size_t count);

// Device to server or allocator.

// HELLO(token) asking for our protocol version; heartbeat_ms 0: no wish.
hf_msg hf_msg_hello(std::string_view token, uint64_t heartbeat_ms);

// ALLOC_REQ(token).
hf_msg hf_msg_alloc_req(std::string_view token);

// SEND; ttl_s 0: the server's default; collapse empty: none.
hf_msg hf_msg_send(std::string_view to, uint64_t id, std::string_view payload, uint64_t ttl_s,
                   std::string_view collapse);

// PING(id); hf_msg_add_heartbeat asks for a new interval.
hf_msg hf_msg_ping(uint64_t id);

// DELIVER_ACK(upto).
hf_msg hf_msg_deliver_ack(uint64_t upto);

// DELIVER_ACK(upto = seq, code, text): the device refuses seq (and
// acknowledges every seq before it). text is not copied.
hf_msg hf_msg_deliver_refusal(uint64_t seq, int code, std::string_view text);

// heartbeat_ms: the interval a PING asks for.
void hf_msg_add_heartbeat(hf_msg *m, uint64_t heartbeat_ms);

// Server to device, server to allocator, allocator to both.

// WELCOME with every field but the heartbeat bounds (hf_msg_add_bounds).
hf_msg hf_msg_welcome(uint64_t heartbeat_ms, uint64_t timeout_ms, uint64_t window, uint64_t max_frame,
                      uint64_t max_payload, std::string_view server_id, std::string_view account,
                      std::string_view device);

// heartbeat_min_ms and heartbeat_max_ms: how far an adaptive device may probe.
void hf_msg_add_bounds(hf_msg *m, uint64_t min_ms, uint64_t max_ms);

// WELCOME: what the server offers beyond the core (HF_FEATURE_*).
void hf_msg_add_features(hf_msg *m, uint64_t features);

// SUBSCRIBE(id): with app, make that app's Web Push subscription
// (vapid_key empty: none), or with remove drop it; app empty: list them.
hf_msg hf_msg_subscribe(uint64_t id, std::string_view app, std::string_view vapid_key, bool remove);

// WAKE(id): with route (JSON), set that provider's wake route; with
// provider, drop it; with neither, ask (the answer has the VAPID key).
hf_msg hf_msg_wake(uint64_t id, std::string_view route, std::string_view provider);

// WAKE_ACK: the answer to request id (code and text when refused), with
// the daemon's VAPID key if it wakes through Web Push.
hf_msg hf_msg_wake_ack(uint64_t id, int code, std::string_view text, std::string_view vapid_key);

// SUBSCRIPTION: one subscription, in the answer to request id.
hf_msg hf_msg_subscription(uint64_t id, std::string_view app, std::string_view endpoint, std::string_view vapid_key);

// SUBSCRIPTION: the end of the answer to request id, which listed count;
// code HF_OK, or why the request was refused (text).
hf_msg hf_msg_subscription_end(uint64_t id, uint64_t count, int code, std::string_view text);

// A DELIVER's marks of a push: its app and urgency.
void hf_msg_add_push(hf_msg *m, std::string_view app, uint64_t urgency);

// PRESENCE_REQ: the account's devices; with follow, their changes after.
hf_msg hf_msg_presence_req(uint64_t id, bool follow);

// PRESENCE: one device's state, in the answer to request id (0: a change).
hf_msg hf_msg_presence(uint64_t id, std::string_view device, bool online);

// device_key: HELLO's (the device's own), or PRESENCE's (a peer's).
void hf_msg_add_device_key(hf_msg *m, std::string_view key);

// PRESENCE: the end of the answer to request id, which listed count.
hf_msg hf_msg_presence_end(uint64_t id, uint64_t count);

// PONG answering ping (its id, if it had one).
hf_msg hf_msg_pong(const hf_msg *ping);

// heartbeat_ms and timeout_ms: the interval granted, and the timeout with it.
void hf_msg_add_grant(hf_msg *m, uint64_t heartbeat_ms, uint64_t timeout_ms);

// ALLOC_RESP with the addresses, best first, and the backoff hints.
hf_msg hf_msg_alloc_resp(const std::string *addresses, size_t count, uint64_t backoff_base_ms, uint64_t backoff_cap_ms);

// REGISTER's store_format of a server whose store is its own (LMDB,
// memory), which shares nothing with the others; a server from before
// the field sends none, and says nothing either way.
inline constexpr std::string_view hf_store_format_own = "own";

// REGISTER; websocket_url and api_url empty: none. store_format: what a
// store shared with other servers is written as, or hf_store_format_own.
hf_msg hf_msg_register(std::string_view server_id, std::string_view key, std::string_view address,
                       std::string_view websocket_url, std::string_view api_url, std::string_view store_format,
                       uint64_t weight, uint64_t load, bool draining);

// REGISTER_ACK(ok, refresh_ms, peers); hf_msg_add_addresses names the
// other servers. peers (the live servers' lines, "server_id weight api")
// is not copied.
hf_msg hf_msg_register_ack(uint64_t refresh_ms, std::string_view peers);
