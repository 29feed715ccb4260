// The WebSocket endpoint for browsers (listen.websocket): after TLS, the
// HTTP/1.1 upgrade (RFC 6455 section 4), then a libevent filter over the
// TLS bufferevent that turns WebSocket messages into the protocol's byte
// stream and back, so the connection state machine, HELLO, heartbeats,
// limits and metrics are those of every device connection.
#pragma once

struct hf_conn;

// A WebSocket connection's framing state, owned by its filter.
struct hf_ws_stream;

// Reads the opening request on a WebSocket connection that finished TLS.
// Answers 101 and switches c->bev to the filter, or answers the HTTP error
// and closes; waits for more when the request is incomplete.
void hf_ws_read_upgrade(hf_conn *c);

// True once the peer sent a close frame (the filter answered it) or broke
// the WebSocket framing (the filter sent its close frame); the connection
// then closes as after any other goodbye.
bool hf_ws_peer_closed(const hf_conn *c);

// Queues our close frame (1000, or 1001 when the daemon is stopping) on a
// WebSocket connection that is closing, unless one was sent already.
void hf_ws_send_close(hf_conn *c);
