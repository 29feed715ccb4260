// The WebSocket endpoint for browsers (listen.websocket): after TLS, the
// HTTP/1.1 request. GET websocket.allocate_path answers a browser's
// address request (allocator and standalone roles); an upgrade to
// websocket.path (RFC 6455 section 4) makes the connection a device
// connection under a WebSocket filter (src/net/ws_stream.h), so the state
// machine, HELLO, heartbeats, limits and metrics are those of every device.
#pragma once
#include "core/allocator/allocator.h"
#include "core/conn/conn.h"
#include "core/server/server.h"

struct hf_websocket_front {
    const hf_config *cfg = nullptr;
    hf_stats *stats = nullptr;
    hf_server *server = nullptr; // devices go there (not on an allocator)
    hf_allocator *allocator = nullptr;
};

// The handler of WebSocket connections until their upgrade; its context is
// the hf_websocket_front.
extern const hf_conn_handler hf_websocket_front_handler;
