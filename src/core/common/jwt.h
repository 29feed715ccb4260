// Device tokens as JSON Web Tokens (RFC 7519, in the JWS compact form of
// RFC 7515), beside the project's own hf1 tokens: a backend mints them
// with any JWT library. Claims: `sub` the account, `device` the device,
// `exp` (required), `iat` (optional: the issue time a restore compares),
// `nbf`, and `aud` and `iss` when the daemon names them. Signatures are
// HS256 (a tokens.keys secret, the one hf1 tokens use), ES256 (P-256),
// EdDSA (Ed25519) or RS256, through OpenSSL. See docs/protocol.md,
// section 6. Minting one is hf_token_mint_jwt (proto/token.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proto/token.h"

typedef struct evp_pkey_st EVP_PKEY;

enum class hf_jwt_alg { hs256, es256, eddsa, rs256 };

// A key a JWT's header names by `kid`: a secret (HS256) or a public key.
struct hf_jwt_key {
    std::string id;
    hf_jwt_alg alg = hf_jwt_alg::hs256;
    std::string secret;
    std::shared_ptr<EVP_PKEY> public_key;
};

// What a JWT must also satisfy: the clock, and aud and iss when set.
struct hf_jwt_rules {
    uint64_t now_s = 0;
    uint64_t skew_s = 0;
    std::string audience; // empty: aud is not checked
    std::string issuer;   // empty: iss is not checked
};

// The longest JWT accepted: an RS256 token with a 4096-bit key and a few
// claims more is under 1,200 bytes, and a HELLO must fit in
// limits.hello_max_frame (4 KiB by default).
#define HF_JWT_MAX 2048

// Whether token has a JWT's form (three base64url parts), not hf1's.
bool hf_jwt_like(std::string_view token);

// Checks a JWT's header (alg, which must be its key's and never none;
// kid, needed when there are several keys; no crit), signature, claims
// and times. HF_OK with claims filled; HF_ERR_BAD_TOKEN,
// HF_ERR_UNKNOWN_KEY or HF_ERR_TOKEN_EXPIRED, with why.
int hf_jwt_verify(std::string_view token, const std::vector<hf_jwt_key> &keys, const hf_jwt_rules &rules,
                  hf_token_claims *claims, std::string *why);

// RFC 8292's VAPID JWT: ES256 with public_key (the raw 65-byte point the
// Authorization header's k gives), aud the push resource's origin, exp
// in the future and at most max_ahead_s ahead. False with why.
bool hf_jwt_verify_vapid(std::string_view token, std::string_view public_key, const std::string &audience,
                         uint64_t now_s, uint64_t max_ahead_s, std::string *why);

// The algorithm named ("HS256", "ES256", "EdDSA", "RS256"); false if none.
bool hf_jwt_alg_from_name(std::string_view name, hf_jwt_alg *alg);
const char *hf_jwt_alg_name(hf_jwt_alg alg);

// A PEM public key for alg, read from path; null with why if it is not
// one (an EC key on another curve, an RSA key under 2048 bits...).
std::shared_ptr<EVP_PKEY> hf_jwt_read_public_key(const std::string &path, hf_jwt_alg alg, std::string *why);

// The keys for alg in a JSON Web Key Set file (RFC 7517: {"keys": [...]},
// as an identity provider publishes it), each by its kid; keys of other
// kinds (kty, crv, alg, use) are left out. False with why if the file is
// not a JWKS, a key for alg is malformed or has no kid, or none is for alg.
bool hf_jwt_read_jwks(const std::string &path, hf_jwt_alg alg, std::vector<hf_jwt_key> *out, std::string *why);
