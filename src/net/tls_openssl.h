// The part of a daemon TLS connection (net/tls_stream) that OpenSSL owns:
// the handshake, and for good a connection it keeps (TLS 1.2, a suite we
// do not have). Its SSL object on two memory BIOs, and the TLS 1.3 traffic
// secrets OpenSSL hands out through the key log callback, which is how
// the stream detaches from it (see test_tls_stream's
// test_openssl_behaves_as_the_detach_expects).
#pragma once
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/tls_record.h"

struct hf_tls_openssl {
    SSL *ssl = nullptr;
    BIO *rbio = nullptr; // records we feed it; owned by ssl
    BIO *wbio = nullptr; // records it wrote; owned by ssl
    uint8_t client_secret[HF_TLS_MAX_SECRET];
    uint8_t server_secret[HF_TLS_MAX_SECRET];
    size_t client_secret_len = 0;
    size_t server_secret_len = 0;
    size_t record_left = 0; // bytes of the record being fed still to come

    ~hf_tls_openssl();
};

// A server side on ctx, its secrets filled in by hf_tls_openssl_keylog;
// null when OpenSSL cannot make one.
std::unique_ptr<hf_tls_openssl> hf_tls_openssl_accept(SSL_CTX *ctx);

// The key log callback (SSL_CTX_set_keylog_callback): keeps the side's
// TLS 1.3 traffic secrets.
void hf_tls_openssl_keylog(const SSL *ssl, const char *line);

// Gives back the memory BIOs' capacity once they are empty (an idle held
// connection).
void hf_tls_openssl_release_idle(hf_tls_openssl *side);

// The bytes both memory BIOs hold on to.
size_t hf_tls_openssl_held_buffers(const hf_tls_openssl *side);

// what, and OpenSSL's last error if any (cleared).
std::string hf_tls_openssl_error(const char *what);
