// A TLS connection and its state machine:
//   handshake [-> upgrade] -> hello -> ready -> closing -> lingering -> closed
// upgrade: a WebSocket connection's HTTP request, within the handshake's
// deadline; closing: flushing the last frames (an ERROR, a GOAWAY);
// lingering: our side is shut (close_notify, FIN) and what the peer still
// sends is read and dropped, so that closing does not reset the connection
// and destroy that last frame before the peer reads it (nginx's "lingering
// close"). Only set_state() in conn.cc moves it; the state is never
// inferred. What a connection carries is its handler's business: conn.cc
// knows frames, not sessions or allocators.
#pragma once
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/common/config.h"
#include "core/common/event_ptr.h"
#include "core/common/stats.h"
#include "core/common/timeouts.h"
#include "core/conn/limits.h"
#include "core/conn/token_bucket.h"
#include "net/tls_record.h"
#include "proto/msg.h"

enum class hf_conn_state { handshake, upgrade, hello, ready, closing, lingering, closed };

struct hf_conn;
struct hf_ws_stream;
struct hf_tls_stream;

// What one kind of connection (device, allocator, WebSocket front door)
// does with it, set at accept and replaced at a WebSocket upgrade. Null
// entries do nothing.
struct hf_conn_handler {
    // upgrade state: bytes arrived before any frame (the HTTP request).
    // Non-null makes a connection enter upgrade after its TLS handshake.
    void (*on_upgrade_read)(hf_conn *c);
    // hello and ready states: one decoded frame.
    void (*on_frame)(hf_conn *c, const hf_msg *m);
    // The connection leaves the open states (closing, or gone at once).
    void (*on_closed)(hf_conn *c);
    // ready state: no frame within the heartbeat timeout; the ERROR follows.
    void (*on_heartbeat_timeout)(hf_conn *c);
    // The struct is freed: what the handler hung on c->owner goes too.
    void (*on_free)(hf_conn *c);
    const char *hello_timeout_text; // the ERROR when the hello state times out
};

// What every connection of the reactor shares.
struct hf_conn_pool {
    event_base *base = nullptr;
    hf_timeouts *timeouts = nullptr;
    const hf_config *cfg = nullptr;
    hf_stats *stats = nullptr;
    hf_limits limits;
    hf_decode_limits decode;         // limits.max_frame, limits.max_fields
    hf_decode_limits hello_decode;   // the same before HELLO, within limits.hello_max_frame
    SSL_CTX *tls = nullptr;          // for new connections (replaced on reload)
    hf_tls_aead *tls_aead = nullptr; // the cipher contexts every connection shares
    bool going_away = false;         // draining: WebSocket closes say 1001
    uint64_t next_id = 1;
    size_t open = 0;
    size_t refusing = 0;     // of them, past a limit and only to be told so (limits.refusals)
    hf_conn *list = nullptr; // every open connection, for shutdown
    // Connections with frames queued in this reactor pass, written out
    // together once the pass's events are handled (see hf_conn_send).
    std::vector<hf_conn *> flush_queue;
    hf_event_ptr flush_event;
};

struct hf_conn {
    hf_conn_pool *pool = nullptr;
    uint64_t id = 0;
    const hf_conn_handler *handler = nullptr;
    void *handler_ctx = nullptr; // the part that handles this kind (a server, an allocator)
    void *owner = nullptr;       // the handler's state for this connection (a device session)
    hf_conn_state state = hf_conn_state::handshake;
    bufferevent *bev = nullptr;
    hf_event_ptr timer;                       // the state's deadline (see set_state)
    uint32_t refs = 1;                        // one for being open, one per pending callback
    hf_conn *prev = nullptr, *next = nullptr; // in pool->list
    uint64_t last_rx_ms = 0;                  // monotonic, last complete frame
    uint64_t heartbeat_timeout_ms = 0;
    std::string address_key; // source address, for the per-address limit
    // A connection past this limit (hf_limit::count: none) is taken only
    // to be told so once it reaches the hello state, with a retry_ms.
    hf_limit over_limit = hf_limit::count;
    hf_token_bucket frame_bucket; // limits.frame_rate
    char peer[64] = "";
    uint64_t flush_deadline_ms = 0; // closing: monotonic time to give up flushing
    hf_tls_stream *tls = nullptr;   // the TLS layer, owned by its filter (c->bev, or the one under c->ws)
    hf_ws_stream *ws = nullptr;     // WebSocket framing, owned by the filter that c->bev is then
    std::string out;                // frames queued in this reactor pass
    bool out_queued = false;        // in pool->flush_queue
};

// Sets up the pool's flush event and frame limits; pool->base and
// pool->cfg must be set.
void hf_conn_pool_init(hf_conn_pool *pool);

// Takes the frame limits from pool->cfg again (a reload).
void hf_conn_pool_apply_limits(hf_conn_pool *pool);

// Takes ownership of an accepted socket and starts the TLS handshake; the
// connection is of the handler's kind.
void hf_conn_accept(hf_conn_pool *pool, evutil_socket_t fd, const sockaddr *addr, const hf_conn_handler *handler,
                    void *handler_ctx);

// A connection over bev, a byte stream with no TLS of its own, waiting
// for HELLO: how the message path's unit tests put a device on the
// server part without a socket (bev is one end of a bufferevent pair whose
// other end records what the server sends). peer names it in the log.
hf_conn *hf_conn_attach(hf_conn_pool *pool, bufferevent *bev, const char *peer, const hf_conn_handler *handler,
                        void *handler_ctx);

// Encodes and queues one frame. Frames to a closing connection are still
// written (an ERROR before the close); once lingering, they are dropped.
// The frames of one reactor pass go out in one write, so they share TLS
// records and system calls instead of costing one of each.
void hf_conn_send(hf_conn *c, const hf_msg *m);

// Sends ERROR(code, text) and closes once it is flushed.
void hf_conn_fail(hf_conn *c, int code, const std::string &text);

// Closes after flushing what is queued; the handler hears of it at once.
void hf_conn_close(hf_conn *c, const char *why);

// upgrade state: the WebSocket upgrade succeeded. The connection now reads
// and writes through filter (whose framing state is ws), is handled as
// handler says, and waits for HELLO.
void hf_conn_upgraded(hf_conn *c, bufferevent *filter, hf_ws_stream *ws, const hf_conn_handler *handler,
                      void *handler_ctx);

// The peer is known (HELLO, a first REGISTER): ready, and silent for no
// longer than heartbeat_timeout_ms. Called again, it re-arms with the new
// timeout.
void hf_conn_set_ready(hf_conn *c, uint64_t heartbeat_timeout_ms);

static inline bool hf_conn_is_open(const hf_conn *c)
{
    return c->state < hf_conn_state::closing;
}

// Closes every connection at once (shutdown), without waiting to flush.
void hf_conn_close_all(hf_conn_pool *pool);

void hf_conn_ref(hf_conn *c);
void hf_conn_unref(hf_conn *c);
