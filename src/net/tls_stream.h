// A server's TLS connection: a bufferevent filter over the socket's own
// bufferevent. OpenSSL does the handshake over memory BIOs, fed one record
// at a time so that it never takes a byte past the client's Finished.
// Then, for TLS 1.3, the SSL object is freed and the records are sealed
// and opened by net/tls_record ("detached"): an idle connection keeps
// about 300 bytes of TLS state instead of OpenSSL's 13 KiB, and one read
// of the socket opens every record it brought. TLS 1.2 and anything
// unexpected stay with OpenSSL ("held"): a connection leaves only with
// a suite of ours, no max_fragment_length (RFC 6066) and no early data.
//
// The filter's event callback gets BEV_EVENT_CONNECTED once the handshake
// is done, BEV_EVENT_EOF at the peer's close_notify and BEV_EVENT_ERROR on
// a TLS error (hf_tls_stream_error says which), each after the data before
// it.
#pragma once
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include <cstddef>

struct hf_tls_aead;
struct hf_tls_stream;

// Told of each control record the peer sends (a KeyUpdate); false refuses
// it, and the connection ends with an alert.
typedef bool (*hf_tls_control_hook)(void *arg);

// Lets the context's handshakes hand their traffic secrets to the streams
// (through the keylog callback, which is therefore taken).
void hf_tls_stream_prepare(SSL_CTX *ctx);

// Starts a server handshake on fd, which the returned bufferevent owns.
// aead outlives the stream. Null if out of memory (fd is closed then).
bufferevent *hf_tls_stream_accept(event_base *base, evutil_socket_t fd, SSL_CTX *ctx, hf_tls_aead *aead,
                                  hf_tls_stream **stream);

void hf_tls_stream_set_control_hook(hf_tls_stream *t, hf_tls_control_hook hook, void *arg);

// The AEAD usage limits, in records (for tests; the defaults follow RFC
// 8446 section 5.5): past rekey_after we change our key, and ask the peer
// to change its; a peer key used for peer_key_limit records is refused.
void hf_tls_stream_set_key_limits(hf_tls_stream *t, uint64_t rekey_after, uint64_t peer_key_limit);

// The handshake resumed a session (no certificate was sent).
bool hf_tls_stream_resumed(const hf_tls_stream *t);

// The handshake ended with the connection detached from OpenSSL.
bool hf_tls_stream_detached(const hf_tls_stream *t);

// Bytes OpenSSL's buffers keep for a connection it holds (0 once
// detached): small once it is idle, whatever it carried.
size_t hf_tls_stream_held_buffers(const hf_tls_stream *t);

// What broke the connection, or "".
const char *hf_tls_stream_error(const hf_tls_stream *t);

// Bytes written to the stream that the kernel has not taken yet.
size_t hf_tls_stream_unsent(const hf_tls_stream *t);

// Stops reading the socket: call it before freeing the bufferevent, so the
// socket is closed with no event of ours left on it.
void hf_tls_stream_stop(hf_tls_stream *t);

// Sends close_notify if the socket takes it at once, then shuts our side
// of the socket (FIN); what the peer still sends can be read.
void hf_tls_stream_shutdown(hf_tls_stream *t);
