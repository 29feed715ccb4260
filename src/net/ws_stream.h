// WebSocket framing (RFC 6455): a libevent filter over the TLS bufferevent
// that turns binary WebSocket messages into the protocol's byte stream and
// back, answers pings and close frames (one pong for the pings of one
// read), and refuses text or oversized messages. The daemon's browser
// connections are its server side (client frames must be masked); the
// bench's browser devices its client side (ours masked, the server's not).
#pragma once
#include <event2/bufferevent.h>

#include <cstdint>

struct hf_ws_stream;

// The filter over tls, for messages of at most max_message bytes; its
// state in *ws, freed with the filter. Null when out of memory.
bufferevent *hf_ws_stream_new(bufferevent *tls, uint64_t max_message, hf_ws_stream **ws, bool client = false);

// Told of each ping; false refuses it and the filter closes with 1008.
typedef bool (*hf_ws_control_hook)(void *arg);
void hf_ws_stream_set_control_hook(hf_ws_stream *ws, hf_ws_control_hook hook, void *arg);

// True once the peer sent a close frame (the filter answered it) or broke
// the framing (the filter sent its close frame).
bool hf_ws_stream_done(const hf_ws_stream *ws);

// Queues our close frame with code (an hf_ws_close_code), unless one was
// sent already.
void hf_ws_stream_close(hf_ws_stream *ws, uint16_t code);
