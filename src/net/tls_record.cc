#include "net/tls_record.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <cstring>

struct hf_tls_aead {
    EVP_CIPHER_CTX *seal = nullptr;
    EVP_CIPHER_CTX *open = nullptr;
    uint64_t seal_key = 0; // key_id of the key each context holds; 0: none
    uint64_t open_key = 0;
    uint64_t next_key_id = 1;
};

namespace
{

// HKDF-Expand-Label(secret, label, "", len) (RFC 8446 section 7.1). Every
// length asked for here fits one HMAC block, so HKDF-Expand is one HMAC.
bool expand_label(const hf_tls_suite *s, const uint8_t *secret, const char *label, uint8_t *out, size_t len)
{
    uint8_t info[2 + 1 + 6 + 32 + 1 + 1];
    size_t label_len = strlen(label);
    if (len > s->hash_len || label_len > 32)
        return false;
    size_t n = 0;
    info[n++] = uint8_t(len >> 8);
    info[n++] = uint8_t(len);
    info[n++] = uint8_t(6 + label_len);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, label_len);
    n += label_len;
    info[n++] = 0; // no context
    info[n++] = 1; // HKDF-Expand's block counter
    uint8_t block[EVP_MAX_MD_SIZE];
    unsigned block_len = 0;
    if (!HMAC(s->hash, secret, int(s->hash_len), info, n, block, &block_len) || block_len < len)
        return false;
    memcpy(out, block, len);
    OPENSSL_cleanse(block, sizeof block);
    return true;
}

bool derive_keys(hf_tls_aead *a, hf_tls_traffic *t, const hf_tls_suite *s)
{
    t->key_id = a->next_key_id++;
    return expand_label(s, t->secret, "key", t->key, s->key_len) && expand_label(s, t->secret, "iv", t->iv, 12);
}

// The per-record nonce: the IV XOR the sequence number (section 5.3).
void make_nonce(const hf_tls_traffic *t, uint8_t nonce[12])
{
    memcpy(nonce, t->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= uint8_t(t->seq >> (8 * i));
}

bool load_key(EVP_CIPHER_CTX *ctx, uint64_t *loaded, const hf_tls_traffic *t, const hf_tls_suite *s, int enc)
{
    if (*loaded == t->key_id)
        return true;
    *loaded = 0;
    if (EVP_CipherInit_ex(ctx, s->aead, nullptr, t->key, nullptr, enc) != 1)
        return false;
    *loaded = t->key_id;
    return true;
}

} // namespace

bool hf_tls_suite_find(uint16_t iana_id, hf_tls_suite *out)
{
    switch (iana_id) {
    case 0x1301:
        *out = {EVP_aes_128_gcm(), EVP_sha256(), 16, 32};
        return true;
    case 0x1302:
        *out = {EVP_aes_256_gcm(), EVP_sha384(), 32, 48};
        return true;
    case 0x1303:
        *out = {EVP_chacha20_poly1305(), EVP_sha256(), 32, 32};
        return true;
    default:
        return false;
    }
}

hf_tls_aead *hf_tls_aead_new(void)
{
    auto *a = new hf_tls_aead;
    a->seal = EVP_CIPHER_CTX_new();
    a->open = EVP_CIPHER_CTX_new();
    if (!a->seal || !a->open) {
        hf_tls_aead_free(a);
        return nullptr;
    }
    return a;
}

void hf_tls_aead_free(hf_tls_aead *a)
{
    if (!a)
        return;
    EVP_CIPHER_CTX_free(a->seal);
    EVP_CIPHER_CTX_free(a->open);
    delete a;
}

bool hf_tls_aead_idle(const hf_tls_aead *a)
{
    return a->seal_key == 0 && a->open_key == 0;
}

void hf_tls_aead_forget(hf_tls_aead *a, uint64_t key_id)
{
    if (key_id == 0)
        return;
    if (a->seal_key == key_id) {
        EVP_CIPHER_CTX_reset(a->seal);
        a->seal_key = 0;
    }
    if (a->open_key == key_id) {
        EVP_CIPHER_CTX_reset(a->open);
        a->open_key = 0;
    }
}

bool hf_tls_traffic_init(hf_tls_aead *a, hf_tls_traffic *t, const hf_tls_suite *s, const uint8_t *secret, uint64_t seq)
{
    memcpy(t->secret, secret, s->hash_len);
    t->seq = seq;
    return derive_keys(a, t, s);
}

bool hf_tls_traffic_update(hf_tls_aead *a, hf_tls_traffic *t, const hf_tls_suite *s)
{
    uint8_t next[HF_TLS_MAX_SECRET];
    if (!expand_label(s, t->secret, "traffic upd", next, s->hash_len))
        return false;
    memcpy(t->secret, next, s->hash_len);
    OPENSSL_cleanse(next, sizeof next);
    hf_tls_aead_forget(a, t->key_id);
    t->seq = 0;
    return derive_keys(a, t, s);
}

bool hf_tls_seal(hf_tls_aead *a, hf_tls_traffic *t, const hf_tls_suite *s, uint8_t type, const uint8_t *plain,
                 size_t len, uint8_t *out)
{
    if (len + 1 + HF_TLS_TAG > HF_TLS_MAX_BODY || !load_key(a->seal, &a->seal_key, t, s, 1))
        return false;
    size_t body = len + 1 + HF_TLS_TAG;
    out[0] = HF_TLS_APPLICATION_DATA;
    out[1] = 3;
    out[2] = 3;
    out[3] = uint8_t(body >> 8);
    out[4] = uint8_t(body);
    uint8_t nonce[12];
    make_nonce(t, nonce);
    int n = 0;
    uint8_t *cipher = out + HF_TLS_HEADER;
    bool ok = EVP_EncryptInit_ex(a->seal, nullptr, nullptr, nullptr, nonce) == 1 &&
              EVP_EncryptUpdate(a->seal, nullptr, &n, out, int(HF_TLS_HEADER)) == 1 &&
              EVP_EncryptUpdate(a->seal, cipher, &n, plain, int(len)) == 1 &&
              EVP_EncryptUpdate(a->seal, cipher + len, &n, &type, 1) == 1 &&
              EVP_EncryptFinal_ex(a->seal, cipher + len + 1, &n) == 1 &&
              EVP_CIPHER_CTX_ctrl(a->seal, EVP_CTRL_AEAD_GET_TAG, int(HF_TLS_TAG), cipher + len + 1) == 1;
    if (!ok) {
        a->seal_key = 0;
        return false;
    }
    t->seq++;
    return true;
}

hf_tls_open_result hf_tls_open(hf_tls_aead *a, hf_tls_traffic *t, const hf_tls_suite *s, const uint8_t *record,
                               size_t record_len, uint8_t *out, size_t *out_len, uint8_t *type)
{
    if (record_len < HF_TLS_HEADER + 1 + HF_TLS_TAG || record_len > HF_TLS_HEADER + HF_TLS_MAX_BODY ||
        record[0] != HF_TLS_APPLICATION_DATA || size_t(record[3] << 8 | record[4]) != record_len - HF_TLS_HEADER)
        return hf_tls_open_result::bad_record;
    if (!load_key(a->open, &a->open_key, t, s, 0))
        return hf_tls_open_result::bad_mac;
    size_t cipher_len = record_len - HF_TLS_HEADER - HF_TLS_TAG;
    uint8_t nonce[12];
    make_nonce(t, nonce);
    int n = 0;
    uint8_t tag[HF_TLS_TAG];
    memcpy(tag, record + record_len - HF_TLS_TAG, HF_TLS_TAG);
    bool ok = EVP_DecryptInit_ex(a->open, nullptr, nullptr, nullptr, nonce) == 1 &&
              EVP_DecryptUpdate(a->open, nullptr, &n, record, int(HF_TLS_HEADER)) == 1 &&
              EVP_DecryptUpdate(a->open, out, &n, record + HF_TLS_HEADER, int(cipher_len)) == 1 &&
              EVP_CIPHER_CTX_ctrl(a->open, EVP_CTRL_AEAD_SET_TAG, int(HF_TLS_TAG), tag) == 1 &&
              EVP_DecryptFinal_ex(a->open, out + cipher_len, &n) == 1;
    if (!ok)
        return hf_tls_open_result::bad_mac;
    t->seq++;
    // The content type is the last byte that is not padding.
    size_t end = cipher_len;
    while (end > 0 && out[end - 1] == 0)
        end--;
    if (end == 0)
        return hf_tls_open_result::bad_record;
    if (end - 1 > HF_TLS_MAX_PLAIN)
        return hf_tls_open_result::overflow;
    *type = out[end - 1];
    *out_len = end - 1;
    return hf_tls_open_result::ok;
}
