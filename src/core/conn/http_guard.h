// What bounds the daemon's HTTP listeners: the request head, body and
// time limits every connection of one gets (the API, metrics and probes),
// and a cap on the connections each holds. libevent 2.1 tells no one when
// evhttp frees a connection, so a TLS one is counted until its SSL object
// is freed with it, and a plain one holds a ref on its bufferevent, let go
// once evhttp has freed it (found at the next connection: until then its
// socket stays open, shut for writing, and counts).
#pragma once
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/conn/limits.h"

struct hf_http_guard {
    size_t max_connections = 0;
    size_t open = 0;                  // connections held now
    hf_limits *limits = nullptr;      // where a connection past the cap is counted,
    hf_limit limit = hf_limit::count; // as this limit
    std::vector<bufferevent *> plain; // a plain listener's connections, a ref of the guard's on each
    hf_http_guard() = default;
    hf_http_guard(const hf_http_guard &) = delete;
    hf_http_guard &operator=(const hf_http_guard &) = delete;
    ~hf_http_guard();
};

// A TLS listener's: whether a new connection is within the cap (else the
// limit's hit is counted, and the caller fails its handshake). One within
// it is counted until ssl, its TLS object, is freed.
bool hf_http_guard_admit_tls(hf_http_guard *guard, SSL *ssl);

// A plain listener's connections (evhttp_set_bevcb, arg the guard): one
// within the cap is counted until evhttp frees it; one past it is counted
// as a hit and shut at once, before it is read.
bufferevent *hf_http_guard_plain(event_base *base, void *guard);

// Lets go of the plain connections' bufferevents (what is still open
// closes): before the event base goes, since the last ref frees them on
// it. The destructor does it too.
void hf_http_guard_release(hf_http_guard *guard);

// The limits on each request: its head (request line and headers), its
// body and the time a connection may be idle or slow.
void hf_http_guard_limits(evhttp *http, size_t max_headers, size_t max_body, int timeout_s);
