#include "proto/ece.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "proto/token.h"

namespace
{

struct pkey_deleter {
    void operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

const size_t salt_len = 16, tag_len = 16, key_len = 16, nonce_len = 12;
// One record holds the whole message: a push is at most 4096 bytes.
const uint32_t record_size = 4096;

// A P-256 key from raw parts: the public point, and the private scalar
// unless it is empty. Null if they are not one.
pkey_ptr p256_key(std::string_view public_key, std::string_view private_key)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *scalar = nullptr;
    if (!bld)
        return nullptr;
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, public_key.data(), public_key.size());
    if (!private_key.empty()) {
        scalar =
            BN_bin2bn(reinterpret_cast<const unsigned char *>(private_key.data()), int(private_key.size()), nullptr);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, scalar);
    }
    EVP_PKEY *key = nullptr;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr) : nullptr;
    if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &key, private_key.empty() ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEYPAIR, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(scalar);
    return pkey_ptr(key);
}

// The ECDH shared secret of ours (with its private key) and theirs.
bool ecdh(EVP_PKEY *ours, EVP_PKEY *theirs, std::string *secret)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, ours, nullptr);
    size_t len = 0;
    bool ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, theirs) == 1 &&
              EVP_PKEY_derive(ctx, nullptr, &len) == 1;
    if (ok) {
        secret->resize(len);
        ok = EVP_PKEY_derive(ctx, reinterpret_cast<unsigned char *>(secret->data()), &len) == 1;
        secret->resize(len);
    }
    EVP_PKEY_CTX_free(ctx);
    return ok && len == 32;
}

std::string hmac(std::string_view key, std::string_view data)
{
    unsigned char out[32];
    if (!hf_hmac_sha256(key, data, out))
        return {};
    return std::string(reinterpret_cast<char *>(out), sizeof out);
}

// HKDF (RFC 5869) with SHA-256 for an output of at most 32 bytes: one
// expansion block.
std::string hkdf(std::string_view salt, std::string_view ikm, std::string_view info, size_t len)
{
    std::string prk = hmac(salt, ikm);
    std::string block(info);
    block.push_back('\x01');
    return hmac(prk, block).substr(0, len);
}

// RFC 8291, section 3.4 then RFC 8188, section 2.2: the content key and
// nonce of a message from sender_public to receiver_public.
bool derive(std::string_view shared, std::string_view auth, std::string_view receiver_public,
            std::string_view sender_public, std::string_view salt, std::string *cek, std::string *nonce)
{
    std::string key_info = "WebPush: info";
    key_info.push_back('\0');
    key_info.append(receiver_public);
    key_info.append(sender_public);
    std::string ikm = hkdf(auth, shared, key_info, 32);
    std::string cek_info = "Content-Encoding: aes128gcm", nonce_info = "Content-Encoding: nonce";
    cek_info.push_back('\0');
    nonce_info.push_back('\0');
    *cek = hkdf(salt, ikm, cek_info, key_len);
    *nonce = hkdf(salt, ikm, nonce_info, nonce_len);
    return ikm.size() == 32 && cek->size() == key_len && nonce->size() == nonce_len;
}

bool refuse(const char **why, const char *text)
{
    *why = text;
    return false;
}

} // namespace

bool hf_aes_gcm(bool seal, std::string_view key, std::string_view nonce, std::string_view aad, std::string_view in,
                std::string *out)
{
    const EVP_CIPHER *cipher = key.size() == 16 ? EVP_aes_128_gcm() : key.size() == 32 ? EVP_aes_256_gcm() : nullptr;
    if (!cipher || nonce.size() != nonce_len || (!seal && in.size() < tag_len))
        return false;
    size_t text_len = seal ? in.size() : in.size() - tag_len;
    out->assign(text_len + (seal ? tag_len : 0), '\0');
    auto *o = reinterpret_cast<unsigned char *>(out->data());
    const auto *i = reinterpret_cast<const unsigned char *>(in.data());
    const auto *k = reinterpret_cast<const unsigned char *>(key.data());
    const auto *iv = reinterpret_cast<const unsigned char *>(nonce.data());
    const auto *a = reinterpret_cast<const unsigned char *>(aad.data());
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, last = 0;
    bool ok = ctx != nullptr;
    if (ok && seal)
        ok = EVP_EncryptInit_ex(ctx, cipher, nullptr, k, iv) == 1 &&
             (aad.empty() || EVP_EncryptUpdate(ctx, nullptr, &n, a, int(aad.size())) == 1) &&
             EVP_EncryptUpdate(ctx, o, &n, i, int(text_len)) == 1 && EVP_EncryptFinal_ex(ctx, o + n, &last) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, int(tag_len), o + text_len) == 1;
    else if (ok)
        ok = EVP_DecryptInit_ex(ctx, cipher, nullptr, k, iv) == 1 &&
             (aad.empty() || EVP_DecryptUpdate(ctx, nullptr, &n, a, int(aad.size())) == 1) &&
             EVP_DecryptUpdate(ctx, o, &n, i, int(text_len)) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, int(tag_len), const_cast<unsigned char *>(i + text_len)) ==
                 1 &&
             EVP_DecryptFinal_ex(ctx, o + n, &last) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

EVP_PKEY *hf_p256_public_key(std::string_view point)
{
    return p256_key(point, {}).release();
}

bool hf_ece_keys_new(hf_ece_keys *out)
{
    pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    BIGNUM *scalar = nullptr;
    unsigned char point[HF_P256_PUBLIC_LEN];
    size_t point_len = 0;
    if (!key || EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &scalar) != 1 ||
        EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &point_len) != 1 ||
        point_len != HF_P256_PUBLIC_LEN) {
        BN_clear_free(scalar);
        return false;
    }
    out->private_key.assign(HF_P256_PRIVATE_LEN, '\0');
    bool ok = BN_bn2binpad(scalar, reinterpret_cast<unsigned char *>(out->private_key.data()), HF_P256_PRIVATE_LEN) ==
              HF_P256_PRIVATE_LEN;
    BN_clear_free(scalar);
    out->public_key.assign(reinterpret_cast<char *>(point), point_len);
    return ok;
}

bool hf_p256_public_valid(std::string_view raw)
{
    return raw.size() == HF_P256_PUBLIC_LEN && raw[0] == '\x04' && p256_key(raw, {}) != nullptr;
}

bool hf_p256_sign(const hf_ece_keys &keys, std::string_view data, std::string *sig)
{
    pkey_ptr key = p256_key(keys.public_key, keys.private_key);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t der_len = 0;
    std::string der;
    bool ok =
        key && ctx && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
        EVP_DigestSign(ctx, nullptr, &der_len, reinterpret_cast<const unsigned char *>(data.data()), data.size()) == 1;
    if (ok) {
        der.resize(der_len);
        ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char *>(der.data()), &der_len,
                            reinterpret_cast<const unsigned char *>(data.data()), data.size()) == 1;
    }
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return false;
    // DER to r || s.
    const unsigned char *p = reinterpret_cast<const unsigned char *>(der.data());
    ECDSA_SIG *parsed = d2i_ECDSA_SIG(nullptr, &p, long(der_len));
    if (!parsed)
        return false;
    sig->assign(64, '\0');
    ok = BN_bn2binpad(ECDSA_SIG_get0_r(parsed), reinterpret_cast<unsigned char *>(sig->data()), 32) == 32 &&
         BN_bn2binpad(ECDSA_SIG_get0_s(parsed), reinterpret_cast<unsigned char *>(sig->data()) + 32, 32) == 32;
    ECDSA_SIG_free(parsed);
    return ok;
}

bool hf_p256_sig_der(std::string_view raw, std::string *der)
{
    if (raw.size() != 64)
        return false;
    ECDSA_SIG *parsed = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(reinterpret_cast<const unsigned char *>(raw.data()), 32, nullptr);
    BIGNUM *s = BN_bin2bn(reinterpret_cast<const unsigned char *>(raw.data()) + 32, 32, nullptr);
    if (!parsed || !r || !s || !ECDSA_SIG_set0(parsed, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(parsed);
        return false;
    }
    unsigned char *out = nullptr;
    int len = i2d_ECDSA_SIG(parsed, &out);
    ECDSA_SIG_free(parsed);
    if (len <= 0)
        return false;
    der->assign(reinterpret_cast<char *>(out), size_t(len));
    OPENSSL_free(out);
    return true;
}

bool hf_p256_verify(std::string_view public_key, std::string_view data, std::string_view sig)
{
    pkey_ptr key = p256_key(public_key, {});
    std::string der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = key && ctx && hf_p256_sig_der(sig, &der) &&
              EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char *>(der.data()), der.size(),
                               reinterpret_cast<const unsigned char *>(data.data()), data.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

bool hf_ece_decrypt(const hf_ece_keys &keys, std::string_view auth, std::string_view body, std::string *plaintext,
                    const char **why)
{
    if (auth.size() != HF_ECE_AUTH_LEN)
        return refuse(why, "the auth secret is not 16 bytes");
    if (body.size() < HF_ECE_HEADER_LEN + tag_len + 1)
        return refuse(why, "not aes128gcm: shorter than its header and tag");
    const auto *p = reinterpret_cast<const unsigned char *>(body.data());
    uint32_t rs = uint32_t(p[16]) << 24 | uint32_t(p[17]) << 16 | uint32_t(p[18]) << 8 | p[19];
    if (p[20] != HF_P256_PUBLIC_LEN)
        return refuse(why, "not aes128gcm for Web Push: its key id is not a P-256 public key");
    std::string_view salt = body.substr(0, salt_len), sender_public = body.substr(21, HF_P256_PUBLIC_LEN);
    std::string_view record = body.substr(HF_ECE_HEADER_LEN);
    if (rs < tag_len + 2 || record.size() > rs)
        return refuse(why, "not one aes128gcm record: this reads a message of one record");
    pkey_ptr mine = p256_key(keys.public_key, keys.private_key), theirs = p256_key(sender_public, {});
    std::string shared, cek, nonce;
    if (!mine)
        return refuse(why, "the device's key pair is not a P-256 key pair");
    if (!theirs)
        return refuse(why, "the sender's key is not a P-256 public key");
    if (!ecdh(mine.get(), theirs.get(), &shared) ||
        !derive(shared, auth, keys.public_key, sender_public, salt, &cek, &nonce) ||
        !hf_aes_gcm(false, cek, nonce, {}, record, plaintext))
        return refuse(why, "does not decrypt with this device's keys");
    // The last record: its data, 0x02, then zeros.
    size_t end = plaintext->find_last_not_of('\0');
    if (end == std::string::npos || (*plaintext)[end] != '\x02')
        return refuse(why, "decrypts, but is not a last record (no 0x02 delimiter)");
    plaintext->resize(end);
    return true;
}

bool hf_ece_encrypt(std::string_view receiver_public, std::string_view auth, std::string_view plaintext,
                    std::string *body, const hf_ece_keys *sender, std::string_view salt)
{
    if (auth.size() != HF_ECE_AUTH_LEN || plaintext.size() + 1 + tag_len > record_size)
        return false;
    hf_ece_keys made;
    if (!sender && !hf_ece_keys_new(&made))
        return false;
    const hf_ece_keys &from = sender ? *sender : made;
    std::string random_salt(salt_len, '\0');
    if (salt.empty()) {
        if (RAND_bytes(reinterpret_cast<unsigned char *>(random_salt.data()), int(salt_len)) != 1)
            return false;
        salt = random_salt;
    }
    pkey_ptr mine = p256_key(from.public_key, from.private_key), theirs = p256_key(receiver_public, {});
    std::string shared, cek, nonce, record(plaintext), sealed;
    record.push_back('\x02');
    if (!mine || !theirs || salt.size() != salt_len || !ecdh(mine.get(), theirs.get(), &shared) ||
        !derive(shared, auth, receiver_public, from.public_key, salt, &cek, &nonce) ||
        !hf_aes_gcm(true, cek, nonce, {}, record, &sealed))
        return false;
    body->assign(salt);
    for (int shift = 24; shift >= 0; shift -= 8)
        body->push_back(char((record_size >> shift) & 0xff));
    body->push_back(char(HF_P256_PUBLIC_LEN));
    body->append(from.public_key);
    body->append(sealed);
    return true;
}
