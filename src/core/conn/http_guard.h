// What bounds the daemon's HTTP listeners: the request head, body and
// time limits every connection of one gets (the API, metrics and probes),
// and a cap on the connections a TLS listener holds (the API). libevent
// 2.1 tells no one when evhttp frees a connection, so one is counted until
// its SSL object is freed with it.
#pragma once
#include <event2/http.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>

#include "core/conn/limits.h"

struct hf_http_guard {
    size_t max_connections = 0;
    size_t open = 0;                  // connections held now
    hf_limits *limits = nullptr;      // where a connection past the cap is counted,
    hf_limit limit = hf_limit::count; // as this limit
};

// A TLS listener's: whether a new connection is within the cap (else the
// limit's hit is counted, and the caller fails its handshake). One within
// it is counted until ssl, its TLS object, is freed.
bool hf_http_guard_admit_tls(hf_http_guard *guard, SSL *ssl);

// The limits on each request: its head (request line and headers), its
// body and the time a connection may be idle or slow.
void hf_http_guard_limits(evhttp *http, size_t max_headers, size_t max_body, int timeout_s);
