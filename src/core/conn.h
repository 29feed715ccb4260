// A TLS connection and its state machine:
//   handshake -> hello -> ready -> closing -> lingering -> closed
// closing: flushing the last frames (an ERROR, a GOAWAY); lingering: our
// side is shut (close_notify, FIN) and what the peer still sends is read
// and dropped, so that closing does not reset the connection and destroy
// that last frame before the peer reads it (nginx's "lingering close").
// One function moves it forward per event; the state is never inferred.
#pragma once
#include <event2/bufferevent.h>
#include <event2/util.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/daemon.h"

enum class hf_conn_state { handshake, hello, ready, closing, lingering, closed };
enum class hf_conn_kind { device, allocator, websocket };

struct hf_ws_stream;
struct hf_tls_stream;

struct hf_conn {
    hf_daemon *d = nullptr;
    uint64_t id = 0;
    hf_conn_kind kind = hf_conn_kind::device;
    hf_conn_state state = hf_conn_state::handshake;
    bufferevent *bev = nullptr;
    hf_event_ptr timer;                       // phase deadline, then heartbeat timeout, then linger
    uint32_t refs = 1;                        // one for being open, one per pending callback
    hf_conn *prev = nullptr, *next = nullptr; // every open connection, for shutdown
    uint64_t last_rx_ms = 0;                  // monotonic, last complete frame
    uint64_t heartbeat_timeout_ms = 0;
    std::unique_ptr<hf_session> session; // device connections after HELLO
    bool registrant = false;             // allocator connections carrying REGISTERs
    std::string address_key;             // source address, for the per-address limit
    hf_token_bucket frame_bucket;        // limits.frame_rate
    hf_token_bucket send_bucket;         // limits.send_rate
    char peer[64] = "";
    bool tls_up = false;            // the TLS handshake finished
    uint64_t flush_deadline_ms = 0; // closing: monotonic time to give up flushing
    hf_tls_stream *tls = nullptr;   // the TLS layer, owned by its filter (c->bev, or the one under c->ws)
    hf_ws_stream *ws = nullptr;     // WebSocket framing, owned by the filter that c->bev is then
    std::string out;                // frames queued in this reactor pass
    bool out_queued = false;        // in d->flush_queue
};

// Takes ownership of an accepted socket and starts the TLS handshake.
void hf_conn_accept(hf_daemon *d, evutil_socket_t fd, const sockaddr *addr, int addr_len, hf_conn_kind kind);

// Encodes and queues one frame. Frames to a closing connection are still
// written (an ERROR before the close); once lingering, they are dropped.
// The frames of one reactor pass go out in one write, so they share TLS
// records and system calls instead of costing one of each.
void hf_conn_send(hf_conn *c, const hf_msg *m);

// The flush event's callback: writes every connection's queued frames.
void hf_conn_flush_queued(evutil_socket_t, short, void *daemon);

// Sends ERROR(code, text) and closes once it is flushed.
void hf_conn_fail(hf_conn *c, int code, const std::string &text);

// Closes after flushing what is queued; the device goes offline at once.
void hf_conn_close(hf_conn *c, const char *why);

// A WebSocket upgrade succeeded: the connection now reads and writes
// through filter (over its TLS bufferevent) and waits for HELLO.
void hf_conn_upgraded(hf_conn *c, bufferevent *filter);

// HELLO accepted: arms the heartbeat deadline.
void hf_conn_set_ready(hf_conn *c, uint64_t heartbeat_timeout_ms);

static inline bool hf_conn_is_open(const hf_conn *c)
{
    return c->state == hf_conn_state::handshake || c->state == hf_conn_state::hello || c->state == hf_conn_state::ready;
}

// Closes every connection at once (shutdown), without waiting to flush.
void hf_conn_close_all(hf_daemon *d);

void hf_conn_ref(hf_conn *c);
void hf_conn_unref(hf_conn *c);
