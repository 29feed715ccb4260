// One TLS connection from a device to an allocator or a server: connect,
// verify the certificate against the address's host, frames in and out.
#pragma once
#include <openssl/ssl.h>

#include <string>

#include "proto/msg.h"

struct event_base;
struct hf_link;

// Why a link went, as a kind the owner can act on, with a sentence
// (on_close's why) a person can act on.
enum class hf_link_failure {
    closed,        // the peer closed the connection
    refused,       // nothing listens at the address
    unreachable,   // no route to the host or network
    timed_out,     // the connect or the peer timed out
    reset,         // the peer reset the connection
    certificate,   // the peer's certificate did not verify against the CA
    name_mismatch, // the certificate does not name the host
    tls,           // another TLS failure
    bad_frame,     // the peer sent a malformed or oversized frame
    other          // any other socket error
};

// What an error or EOF on an OpenSSL bufferevent means, and why in a
// sentence (for links, and any other TLS client on libevent).
struct bufferevent;
hf_link_failure hf_link_describe_failure(bufferevent *bev, std::string *why);

// Each callback names its link, so an owner may hold several.
struct hf_link_callbacks {
    void (*on_open)(void *arg, hf_link *l);                   // TLS is up
    void (*on_frame)(void *arg, hf_link *l, const hf_msg *m); // one decoded frame
    // Gone; free the link now or later.
    void (*on_close)(void *arg, hf_link *l, hf_link_failure failure, const char *why);
};

// A client TLS context: TLS 1.2+, idle buffers released, peers verified
// against ca_file (PEM; NULL: the system's store), sessions handed to the
// links' session slots. Null if unreadable.
SSL_CTX *hf_link_tls_ctx(const char *ca_file);

// Where a link goes.
struct hf_link_target {
    std::string address;               // "host:port"
    const char *server_name = nullptr; // the name the certificate must carry; null or "": the host
    const char *source_ip = nullptr;   // local address to connect from; null: the kernel's choice
    // The owner's slot for a TLS session: one it holds is offered, so a
    // server that issued it (or shares its ticket key) resumes without a
    // full handshake; the tickets the server sends replace it. Null: none.
    // The owner frees what it holds (SSL_SESSION_free) and keeps the slot
    // alive while the link is.
    SSL_SESSION **session = nullptr;
    // A browser's way in: after TLS, a WebSocket upgrade to this path
    // (websocket.path, "/handoff"), then the frames in binary messages.
    // Null: frames straight over TLS.
    const char *websocket_path = nullptr;
};

// Starts connecting. Null and *err if the address is bad or the source
// address cannot be bound.
hf_link *hf_link_open(event_base *base, SSL_CTX *tls, const hf_link_target *target, size_t max_frame,
                      const hf_link_callbacks *cb, void *arg, std::string *err);

// Queues one frame. Returns false if the link is closed.
bool hf_link_send(hf_link *l, const hf_msg *m);

// Closes at once; no callback runs after this. Safe inside a callback.
void hf_link_free(hf_link *l);
