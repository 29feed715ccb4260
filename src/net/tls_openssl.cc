#include "net/tls_openssl.h"

#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <cstring>

namespace
{

// A memory BIO keeps the capacity of the largest record it held: an idle
// held connection gives it back by taking a fresh one, once it is empty.
const size_t bio_keep = 4096;

bool bio_worth_releasing(BIO *bio)
{
    BUF_MEM *mem = nullptr;
    return BIO_ctrl_pending(bio) == 0 && BIO_get_mem_ptr(bio, &mem) == 1 && mem && mem->max > bio_keep;
}

} // namespace

hf_tls_openssl::~hf_tls_openssl()
{
    SSL_free(ssl);
    OPENSSL_cleanse(client_secret, sizeof client_secret);
    OPENSSL_cleanse(server_secret, sizeof server_secret);
}

std::unique_ptr<hf_tls_openssl> hf_tls_openssl_accept(SSL_CTX *ctx)
{
    auto side = std::make_unique<hf_tls_openssl>();
    side->ssl = SSL_new(ctx);
    side->rbio = BIO_new(BIO_s_mem());
    side->wbio = BIO_new(BIO_s_mem());
    if (!side->ssl || !side->rbio || !side->wbio) {
        BIO_free(side->rbio);
        BIO_free(side->wbio);
        return nullptr;
    }
    // An empty memory BIO means "wait for more", not end of file.
    BIO_set_mem_eof_return(side->rbio, -1);
    SSL_set_bio(side->ssl, side->rbio, side->wbio);
    SSL_set_accept_state(side->ssl);
    SSL_set_app_data(side->ssl, side.get());
    return side;
}

// "LABEL <client random> <secret>", NSS key log format: the one place
// OpenSSL 3.0 hands out TLS 1.3 traffic secrets.
void hf_tls_openssl_keylog(const SSL *ssl, const char *line)
{
    auto *side = static_cast<hf_tls_openssl *>(SSL_get_app_data(ssl));
    if (!side)
        return;
    uint8_t *secret;
    size_t *secret_len;
    if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) {
        secret = side->client_secret;
        secret_len = &side->client_secret_len;
    } else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) {
        secret = side->server_secret;
        secret_len = &side->server_secret_len;
    } else {
        return;
    }
    const char *hex = strchr(line + 24, ' ');
    if (!hex)
        return;
    hex++;
    size_t n = 0;
    while (n < HF_TLS_MAX_SECRET) {
        int hi = OPENSSL_hexchar2int(uint8_t(hex[2 * n]));
        int lo = hi < 0 ? -1 : OPENSSL_hexchar2int(uint8_t(hex[2 * n + 1])); // not past the end
        if (lo < 0)
            break;
        secret[n++] = uint8_t(hi << 4 | lo);
    }
    *secret_len = n;
}

void hf_tls_openssl_release_idle(hf_tls_openssl *side)
{
    if (bio_worth_releasing(side->rbio)) {
        BIO *fresh = BIO_new(BIO_s_mem());
        if (fresh) {
            BIO_set_mem_eof_return(fresh, -1);
            SSL_set0_rbio(side->ssl, fresh); // frees the old one
            side->rbio = fresh;
        }
    }
    if (bio_worth_releasing(side->wbio)) {
        BIO *fresh = BIO_new(BIO_s_mem());
        if (fresh) {
            SSL_set0_wbio(side->ssl, fresh);
            side->wbio = fresh;
        }
    }
}

size_t hf_tls_openssl_held_buffers(const hf_tls_openssl *side)
{
    size_t n = 0;
    for (BIO *bio : {side->rbio, side->wbio}) {
        BUF_MEM *mem = nullptr;
        if (BIO_get_mem_ptr(bio, &mem) == 1 && mem)
            n += mem->max;
    }
    return n;
}

std::string hf_tls_openssl_error(const char *what)
{
    char buf[256] = "";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return e ? std::string(what) + ": " + buf : std::string(what);
}
