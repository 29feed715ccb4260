#include "core/shell/tls_context.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "net/tls_stream.h"

namespace
{

std::string openssl_error(void)
{
    char buf[256] = "unknown error";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

// The key that encrypts session tickets, from a file every server of the
// cluster shares: a device re-homed after a server dies resumes its
// session (no certificate signature or verification) on the next one.
// OpenSSL takes 80 bytes: a 16-byte key name, then the HMAC and AES keys.
bool use_ticket_key(SSL_CTX *ctx, const std::string &path, std::string *err)
{
    const std::string wanted =
        "it must hold at least 80 secret bytes (head -c 80 /dev/urandom > FILE, the same file on every server)";
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) {
        *err = "tls.ticket_key_file " + path + ": " + strerror(errno) + "; " + wanted;
        return false;
    }
    unsigned char key[80];
    size_t got = fread(key, 1, sizeof key, f);
    fclose(f);
    bool ok = got == sizeof key && SSL_CTX_set_tlsext_ticket_keys(ctx, key, sizeof key) == 1;
    OPENSSL_cleanse(key, sizeof key);
    if (!ok)
        *err = "tls.ticket_key_file " + path + ": " + wanted;
    return ok;
}

} // namespace

hf_ssl_ctx_ptr hf_tls_server_ctx(const hf_config &cfg, std::string *err)
{
    hf_ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
        *err = "cannot create a TLS context: " + openssl_error();
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx.get(), cfg.tls_min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    // A TLS 1.2 client may not renegotiate: the connection's records would
    // turn into a handshake in the middle of our frames (and it costs the
    // server a handshake at the client's whim).
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION);
    hf_tls_stream_prepare(ctx.get());
    if (SSL_CTX_set_cipher_list(ctx.get(), cfg.tls_ciphers.c_str()) != 1) {
        *err = "tls.ciphers \"" + cfg.tls_ciphers + "\" names no cipher OpenSSL knows: " + openssl_error();
        return nullptr;
    }
    if (!cfg.tls_ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx.get(), cfg.tls_ciphersuites.c_str()) != 1) {
        *err = "tls.ciphersuites \"" + cfg.tls_ciphersuites + "\" names no suite OpenSSL knows: " + openssl_error();
        return nullptr;
    }
    // Devices reconnect often; a resumed session saves a full handshake.
    // One TLS 1.3 ticket is enough for a device's next connection; OpenSSL
    // sends two by default, each an encryption and a record per handshake.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_num_tickets(ctx.get(), 1);
    if (!cfg.tls_ticket_key_file.empty() && !use_ticket_key(ctx.get(), cfg.tls_ticket_key_file, err))
        return nullptr;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cfg.tls_certificate.c_str()) != 1) {
        *err = "tls.certificate " + cfg.tls_certificate + ": " + openssl_error() +
               " (give a readable PEM certificate chain)";
        return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), cfg.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
        bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        ERR_clear_error();
        if (!mismatch) {
            *err = "tls.key " + cfg.tls_key + ": " + openssl_error() + " (give a readable PEM private key)";
            return nullptr;
        }
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
        *err = "tls.key " + cfg.tls_key + " does not match tls.certificate " + cfg.tls_certificate +
               "; give the key the certificate was issued for";
        return nullptr;
    }
    return ctx;
}
