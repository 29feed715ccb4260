// The listeners' TLS context.
#pragma once
#include <string>

#include <openssl/ssl.h>

#include <memory>

#include "core/common/config.h"

struct hf_ssl_ctx_deleter {
    void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
using hf_ssl_ctx_ptr = std::unique_ptr<SSL_CTX, hf_ssl_ctx_deleter>;

// Builds a server context from tls.* keys: certificate chain, a key that
// must match it, minimum version, and SSL_MODE_RELEASE_BUFFERS so an idle
// connection holds no record buffers. Null and *err on failure.
hf_ssl_ctx_ptr hf_tls_server_ctx(const hf_config &cfg, std::string *err);
