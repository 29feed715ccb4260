#include "core/common/jwt.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "handoff/protocol.h"
#include "proto/ece.h"

namespace
{

struct json_deleter {
    void operator()(json_t *j) const { json_decref(j); }
};
using json_ptr = std::unique_ptr<json_t, json_deleter>;

struct md_ctx_deleter {
    void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); }
};

const struct {
    hf_jwt_alg alg;
    const char *name;
} alg_names[] = {
    {hf_jwt_alg::hs256, "HS256"},
    {hf_jwt_alg::es256, "ES256"},
    {hf_jwt_alg::eddsa, "EdDSA"},
    {hf_jwt_alg::rs256, "RS256"},
};

// A part of the token as a JSON object; null if it is not one.
json_ptr decode_object(std::string_view part)
{
    std::string text;
    if (!hf_base64url_decode(part, &text))
        return nullptr;
    json_ptr j(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, nullptr));
    return j && json_is_object(j.get()) ? std::move(j) : nullptr;
}

bool signature_holds(const hf_jwt_key &key, std::string_view signed_part, const std::string &signature)
{
    if (key.alg == hf_jwt_alg::hs256) {
        unsigned char expected[32];
        return signature.size() == 32 && hf_hmac_sha256(key.secret, signed_part, expected) &&
               CRYPTO_memcmp(expected, signature.data(), 32) == 0;
    }
    std::string der;
    const std::string *sig = &signature;
    if (key.alg == hf_jwt_alg::es256) {
        // JWS's ES256 signature is r and s, 32 bytes each; OpenSSL verifies DER.
        if (!hf_p256_sig_der(signature, &der))
            return false;
        sig = &der;
    }
    std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
    const EVP_MD *md = key.alg == hf_jwt_alg::eddsa ? nullptr : EVP_sha256();
    return ctx && key.public_key && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.public_key.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char *>(sig->data()), sig->size(),
                            reinterpret_cast<const unsigned char *>(signed_part.data()), signed_part.size()) == 1;
}

// A NumericDate claim (RFC 7519: seconds, perhaps with a fraction) as
// whole seconds; false if absent or not a number of them.
bool numeric_date(json_t *claims, const char *name, uint64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (!v || !json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e15)
        return false;
    *out = uint64_t(std::floor(json_number_value(v)));
    return true;
}

bool audience_holds(json_t *aud, const std::string &wanted)
{
    if (json_is_string(aud))
        return wanted == json_string_value(aud);
    size_t i;
    json_t *one;
    if (json_is_array(aud))
        json_array_foreach(aud, i, one) if (json_is_string(one) && wanted == json_string_value(one)) return true;
    return false;
}

int refuse(std::string *why, const char *text, int code = HF_ERR_BAD_TOKEN)
{
    *why = text;
    return code;
}

// The header's key: named by kid, or the only one there is.
int key_of(json_t *header, const std::vector<hf_jwt_key> &keys, const hf_jwt_key **key, std::string *why)
{
    json_t *kid = json_object_get(header, "kid");
    if (kid && !json_is_string(kid))
        return refuse(why, "kid is not a string");
    if (!kid) {
        if (keys.size() != 1)
            return refuse(why, "no kid, and tokens.keys has several keys");
        *key = &keys[0];
        return HF_OK;
    }
    for (const hf_jwt_key &k : keys)
        if (k.id == json_string_value(kid)) {
            *key = &k;
            return HF_OK;
        }
    return refuse(why, "no key of tokens.keys has the kid", HF_ERR_UNKNOWN_KEY);
}

int take_claims(json_t *body, const hf_jwt_rules &rules, hf_token_claims *claims, std::string *why)
{
    json_t *sub = json_object_get(body, "sub"), *device = json_object_get(body, "device");
    if (!json_is_string(sub) || !hf_name_valid(json_string_value(sub)))
        return refuse(why, "sub (the account) is missing or not a name");
    if (!json_is_string(device) || !hf_name_valid(json_string_value(device)) || json_string_value(device)[0] == '@')
        return refuse(why, "device is missing or not a device name");
    uint64_t exp = 0, nbf = 0, iat = 0;
    if (!numeric_date(body, "exp", &exp))
        return refuse(why, "exp is missing or not a time");
    if (json_object_get(body, "nbf") && !numeric_date(body, "nbf", &nbf))
        return refuse(why, "nbf is not a time");
    if (json_object_get(body, "iat") && !numeric_date(body, "iat", &iat))
        return refuse(why, "iat is not a time");
    if (!rules.audience.empty() && !audience_holds(json_object_get(body, "aud"), rules.audience))
        return refuse(why, "aud does not name tokens.audience");
    json_t *iss = json_object_get(body, "iss");
    if (!rules.issuer.empty() && (!json_is_string(iss) || rules.issuer != json_string_value(iss)))
        return refuse(why, "iss is not tokens.issuer");
    if (exp + rules.skew_s < rules.now_s)
        return refuse(why, "expired", HF_ERR_TOKEN_EXPIRED);
    if (nbf > rules.now_s + rules.skew_s)
        return refuse(why, "not valid yet (nbf)");
    claims->account = json_string_value(sub);
    claims->device = json_string_value(device);
    claims->expires_at = exp;
    claims->issued_at_ms = iat * 1000;
    return HF_OK;
}

// The kinds of key each algorithm takes, said when one is not.
const char kinds[] = " (ES256: P-256; EdDSA: Ed25519; RS256: RSA of 2048 bits or more)";

bool key_fits(EVP_PKEY *key, hf_jwt_alg alg)
{
    char group[64] = "";
    switch (alg) {
    case hf_jwt_alg::es256:
        return EVP_PKEY_is_a(key, "EC") &&
               EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr) &&
               std::string_view(group) == "prime256v1";
    case hf_jwt_alg::eddsa:
        return EVP_PKEY_is_a(key, "ED25519");
    case hf_jwt_alg::rs256:
        return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
    case hf_jwt_alg::hs256:
        break;
    }
    return false;
}

// A member of a JWK as bytes (base64url); false if absent or not that.
bool jwk_bytes(json_t *jwk, const char *name, std::string *out)
{
    json_t *v = json_object_get(jwk, name);
    return json_is_string(v) && hf_base64url_decode(json_string_value(v), out) && !out->empty();
}

// A public key from one JWK of the kind alg takes; null if it is not one.
EVP_PKEY *jwk_key(json_t *jwk, hf_jwt_alg alg)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    std::string x, y, n, e;
    if (alg == hf_jwt_alg::eddsa) {
        if (!kty || strcmp(kty, "OKP") != 0 || !crv || strcmp(crv, "Ed25519") != 0 || !jwk_bytes(jwk, "x", &x))
            return nullptr;
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char *>(x.data()),
                                           x.size());
    }
    if (alg == hf_jwt_alg::es256) {
        if (!kty || strcmp(kty, "EC") != 0 || !crv || strcmp(crv, "P-256") != 0 || !jwk_bytes(jwk, "x", &x) ||
            !jwk_bytes(jwk, "y", &y) || x.size() != 32 || y.size() != 32)
            return nullptr;
        return hf_p256_public_key(std::string(1, '\x04') + x + y); // uncompressed
    }
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn_n = nullptr, *bn_e = nullptr;
    const char *type = nullptr;
    if (alg == hf_jwt_alg::rs256 && kty && !strcmp(kty, "RSA") && jwk_bytes(jwk, "n", &n) && jwk_bytes(jwk, "e", &e)) {
        type = "RSA";
        bn_n = BN_bin2bn(reinterpret_cast<const unsigned char *>(n.data()), int(n.size()), nullptr);
        bn_e = BN_bin2bn(reinterpret_cast<const unsigned char *>(e.data()), int(e.size()), nullptr);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
    }
    EVP_PKEY *key = nullptr;
    OSSL_PARAM *params = type ? OSSL_PARAM_BLD_to_param(bld) : nullptr;
    EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr) : nullptr;
    if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return key;
}

// A JWS in compact form, its header and claims decoded.
struct jws {
    std::string_view signed_part;
    json_ptr header, body;
    std::string signature;
};

int split(std::string_view token, jws *out, std::string *why)
{
    if (token.size() > HF_JWT_MAX)
        return refuse(why, "longer than 2048 bytes");
    size_t first = token.find('.'), second = token.find('.', first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos ||
        token.find('.', second + 1) != std::string_view::npos)
        return refuse(why, "not three parts (JWS compact form)");
    out->signed_part = token.substr(0, second);
    out->header = decode_object(token.substr(0, first));
    out->body = decode_object(token.substr(first + 1, second - first - 1));
    if (!out->header || !out->body || !hf_base64url_decode(token.substr(second + 1), &out->signature))
        return refuse(why, "a part is not base64url JSON");
    if (!json_is_string(json_object_get(out->header.get(), "alg")))
        return refuse(why, "no alg");
    if (json_object_get(out->header.get(), "crit"))
        return refuse(why, "crit names extensions this server does not understand");
    return HF_OK;
}

// The key decides the algorithm, never the token: no "none", and no
// HS256 made with a public key as its secret.
int check_signature(const jws &parts, const hf_jwt_key &key, std::string *why)
{
    if (std::string_view(json_string_value(json_object_get(parts.header.get(), "alg"))) != hf_jwt_alg_name(key.alg))
        return refuse(why, "alg is not its key's");
    if (!signature_holds(key, parts.signed_part, parts.signature))
        return refuse(why, "the signature does not hold");
    return HF_OK;
}

} // namespace

bool hf_jwt_alg_from_name(std::string_view name, hf_jwt_alg *alg)
{
    for (const auto &a : alg_names)
        if (name == a.name) {
            *alg = a.alg;
            return true;
        }
    return false;
}

const char *hf_jwt_alg_name(hf_jwt_alg alg)
{
    for (const auto &a : alg_names)
        if (a.alg == alg)
            return a.name;
    return "?";
}

bool hf_jwt_like(std::string_view token)
{
    size_t first = token.find('.');
    return token.substr(0, 4) != "hf1." && first != std::string_view::npos &&
           token.find('.', first + 1) != std::string_view::npos;
}

int hf_jwt_verify(std::string_view token, const std::vector<hf_jwt_key> &keys, const hf_jwt_rules &rules,
                  hf_token_claims *claims, std::string *why)
{
    jws parts;
    if (int rc = split(token, &parts, why); rc != HF_OK)
        return rc;
    const hf_jwt_key *key = nullptr;
    if (int rc = key_of(parts.header.get(), keys, &key, why); rc != HF_OK)
        return rc;
    if (int rc = check_signature(parts, *key, why); rc != HF_OK)
        return rc;
    if (int rc = take_claims(parts.body.get(), rules, claims, why); rc != HF_OK)
        return rc;
    claims->key_id = key->id;
    return HF_OK;
}

bool hf_jwt_verify_vapid(std::string_view token, std::string_view public_key, const std::string &audience,
                         uint64_t now_s, uint64_t max_ahead_s, std::string *why)
{
    jws parts;
    hf_jwt_key key;
    key.alg = hf_jwt_alg::es256;
    key.public_key.reset(hf_p256_public_key(public_key), EVP_PKEY_free);
    if (!key.public_key) {
        *why = "k is not a P-256 public key";
        return false;
    }
    if (split(token, &parts, why) != HF_OK || check_signature(parts, key, why) != HF_OK)
        return false;
    json_t *body = parts.body.get();
    uint64_t exp = 0;
    if (!json_is_string(json_object_get(body, "aud")) || audience != json_string_value(json_object_get(body, "aud")))
        *why = "aud is not the push resource's origin, " + audience;
    else if (!numeric_date(body, "exp", &exp))
        *why = "exp is missing or not a time";
    else if (exp <= now_s)
        *why = "expired";
    else if (exp > now_s + max_ahead_s)
        *why = "exp is more than " + std::to_string(max_ahead_s / 3600) + " h ahead (RFC 8292)";
    else
        return true;
    return false;
}

std::shared_ptr<EVP_PKEY> hf_jwt_read_public_key(const std::string &path, hf_jwt_alg alg, std::string *why)
{
    FILE *f = fopen(path.c_str(), "r");
    if (!f) {
        *why = "cannot open " + path;
        return nullptr;
    }
    std::shared_ptr<EVP_PKEY> key(PEM_read_PUBKEY(f, nullptr, nullptr, nullptr), EVP_PKEY_free);
    fclose(f);
    if (!key) {
        *why = path + " holds no PEM public key (-----BEGIN PUBLIC KEY-----)";
        return nullptr;
    }
    if (!key_fits(key.get(), alg)) {
        *why = path + " is not a key for " + hf_jwt_alg_name(alg) + kinds;
        return nullptr;
    }
    return key;
}

bool hf_jwt_read_jwks(const std::string &path, hf_jwt_alg alg, std::vector<hf_jwt_key> *out, std::string *why)
{
    json_error_t err;
    json_ptr set(json_load_file(path.c_str(), JSON_REJECT_DUPLICATES, &err));
    json_t *keys = set ? json_object_get(set.get(), "keys") : nullptr;
    if (!json_is_array(keys)) {
        *why = path + " is not a JSON Web Key Set ({\"keys\": [...]}): " + (set ? "no keys array" : err.text);
        return false;
    }
    size_t before = out->size(), i;
    json_t *jwk;
    json_array_foreach(keys, i, jwk)
    {
        const char *named = json_string_value(json_object_get(jwk, "alg"));
        const char *use = json_string_value(json_object_get(jwk, "use"));
        if ((named && std::string_view(named) != hf_jwt_alg_name(alg)) || (use && strcmp(use, "sig") != 0))
            continue; // another algorithm's, or for encryption
        std::shared_ptr<EVP_PKEY> key(jwk_key(jwk, alg), EVP_PKEY_free);
        if (!key)
            continue; // another kind (kty, crv)
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        if (!kid || !hf_name_valid(kid) || !key_fits(key.get(), alg)) {
            *why = path + ": key " + std::to_string(i) +
                   (kid ? std::string(" (") + kid + ")" : std::string(" has no kid or")) + " is not a usable " +
                   hf_jwt_alg_name(alg) + " key" + kinds;
            return false;
        }
        out->push_back(hf_jwt_key{kid, alg, "", std::move(key)});
    }
    if (out->size() == before) {
        *why = path + " holds no " + hf_jwt_alg_name(alg) + " key";
        return false;
    }
    return true;
}
