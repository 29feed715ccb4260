// Authentication before the body. evhttp (libevent 2.1) reads a request's
// whole body before the API sees any of it, and has no hook between the
// head and the body. So the API listener's body limit is
// api.max_unauthenticated_body, and a scanner on each connection's
// decrypted input reads the request heads as they arrive, before evhttp
// parses them: a push's POST (docs/push.md) is held to the push limit, and
// a head that presents an api.keys secret raises that
// connection's limit to what the API reads (twice api.max_body), and one
// that does not lowers it again. A request without a key and with a larger
// body is then refused by evhttp (413, the connection closed) before its
// body is read, rather than buffered whole.
#pragma once
#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/common/config.h"

// The two limits a connection's body may be held to.
struct hf_head_limits {
    const hf_config *cfg;
    size_t unauthenticated; // api.max_unauthenticated_body
    size_t authenticated;   // what the API reads
    size_t push;            // what a push's POST may carry (push.max_body, read to twice it); 0: Web Push is off
};

// Scans bev's input (a new connection, before evhttp reads it; ssl, its
// TLS object, frees the scanner with it). Should it fail, the connection
// keeps the unauthenticated limit.
void hf_head_scan_start(bufferevent *bev, SSL *ssl, const hf_head_limits *limits);

// Whether presented is secret, compared by digest: in constant time and
// whatever the lengths.
bool hf_secret_matches(const char *presented, const std::string &secret);

// The api.keys entry whose secret an Authorization header value
// ("Bearer <secret>") presents, or null; compared in constant time.
const hf_api_key *hf_api_key_of(const hf_config *cfg, const char *authorization);
