// What allocators and servers send a device, and the frames it sends
// back: ALLOC_RESP, WELCOME, DELIVER, SEND_ACK, PONG, PRESENCE,
// SUBSCRIPTION, WAKE_ACK, GOAWAY, ERROR.
#pragma once
#include <event2/util.h>

#include <cstdint>

#include "client/client_state.h"

namespace hf_clientlib
{

// The links' callbacks: frames in, opens and closes.
extern const hf_link_callbacks link_callbacks;

// SEND of an outgoing message under its id (marked sent).
void send_message(hf_client *c, uint64_t id, outgoing &o);

// The message id will never be taken: the application hears it rejected
// with code, and it is not sent again.
void fail_message(hf_client *c, uint64_t id, int code, const char *text);

// PING(id) on the current link.
void send_ping(hf_client *c, uint64_t id);

// SUBSCRIBE on the current link; its answer goes to c->subscription_cb.
void send_subscribe(hf_client *c, const char *app, const uint8_t *vapid_key, size_t vapid_key_len, bool remove);

// WAKE on the current link; its answer goes to c->wake_cb.
void send_wake(hf_client *c, const char *route, const char *drop_provider);

// DELIVER_ACK(upto) on l; false if it is closed.
bool send_deliver_ack(hf_link *l, uint64_t upto);

// DELIVER_ACK(seq, code, text): refuses seq, acknowledging every seq
// before it; false if l is closed.
bool send_deliver_refusal(hf_link *l, uint64_t seq, int code, std::string_view text);

// The heartbeat timer: a PING when the interval passed with none out.
void on_ping_timer(evutil_socket_t, short, void *arg);

} // namespace hf_clientlib
