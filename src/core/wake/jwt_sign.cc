#include "core/wake/jwt_sign.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

#include "proto/token.h"

namespace
{

struct pkey_deleter {
    void operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

pkey_ptr read_pem(const std::string &pem)
{
    BIO *bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    return pkey_ptr(key);
}

std::string encoded(const std::string &raw)
{
    std::string out;
    hf_base64url_encode(raw, &out);
    return out;
}

std::string signing_input(const std::string &header_json, const std::string &claims_json)
{
    return encoded(header_json) + "." + encoded(claims_json);
}

} // namespace

bool hf_p256_from_pem(const std::string &pem, hf_ece_keys *keys, std::string *err)
{
    pkey_ptr key = read_pem(pem);
    char group[32] = "";
    if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr) ||
        std::string(group) != "prime256v1") {
        *err = "not a P-256 private key in PEM";
        return false;
    }
    BIGNUM *scalar = nullptr;
    unsigned char pub[HF_P256_PUBLIC_LEN + 1], priv[HF_P256_PRIVATE_LEN];
    size_t pub_len = 0;
    bool ok =
        EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &scalar) &&
        BN_bn2binpad(scalar, priv, sizeof priv) == int(sizeof priv) &&
        EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub, &pub_len) &&
        pub_len == HF_P256_PUBLIC_LEN;
    BN_clear_free(scalar);
    if (!ok) {
        *err = "cannot read the P-256 key's scalar and point";
        return false;
    }
    keys->private_key.assign(reinterpret_cast<char *>(priv), sizeof priv);
    keys->public_key.assign(reinterpret_cast<char *>(pub), pub_len);
    return true;
}

std::string hf_p256_pem_new()
{
    pkey_ptr key(EVP_EC_gen("P-256"));
    BIO *bio = BIO_new(BIO_s_mem());
    std::string pem;
    if (key && bio && PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1) {
        char *data = nullptr;
        long len = BIO_get_mem_data(bio, &data);
        pem.assign(data, size_t(len));
    }
    BIO_free(bio);
    return pem;
}

std::string hf_jwt_sign_es256(const hf_ece_keys &keys, const std::string &header_json, const std::string &claims_json)
{
    std::string input = signing_input(header_json, claims_json), sig;
    if (!hf_p256_sign(keys, input, &sig))
        return "";
    return input + "." + encoded(sig);
}

bool hf_jwt_sign_rs256(const std::string &pem, const std::string &header_json, const std::string &claims_json,
                       std::string *jwt, std::string *err)
{
    pkey_ptr key = read_pem(pem);
    if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
        *err = "not an RSA private key in PEM";
        return false;
    }
    std::string input = signing_input(header_json, claims_json);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sig_len = 0;
    bool ok =
        md && EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
        EVP_DigestSign(md, nullptr, &sig_len, reinterpret_cast<const unsigned char *>(input.data()), input.size()) == 1;
    std::string sig(sig_len, '\0');
    ok = ok && EVP_DigestSign(md, reinterpret_cast<unsigned char *>(sig.data()), &sig_len,
                              reinterpret_cast<const unsigned char *>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        *err = "RSA signing failed";
        return false;
    }
    sig.resize(sig_len);
    *jwt = input + "." + encoded(sig);
    return true;
}
