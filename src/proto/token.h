// Device tokens: "hf1." base64url(claims) "." base64url(HMAC-SHA256).
// The claims are TLV fields (account, device, expiry, key id, and the
// optional issue time); the MAC
// covers the ASCII text before the second dot. See docs/protocol.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#define HF_NAME_MAX 64
// The longest token accepted (a real one is under 400 bytes).
#define HF_TOKEN_MAX 1024

struct hf_token_claims {
    std::string account;
    std::string device;
    std::string key_id;
    uint64_t expires_at = 0;   // unix seconds
    uint64_t issued_at_ms = 0; // unix ms; 0: the token has none (minted before the claim existed)
};

struct hf_token_key {
    std::string id;
    std::string secret;
};

// Account and device names: 1..64 bytes of [A-Za-z0-9._@-]. "*" is not a
// name; it means "every other device of my account" in SEND.
bool hf_name_valid(std::string_view name);

// Writes a signed token for claims into out (issued_at_ms only if
// nonzero). HF_ERR_BAD_FIELD if a name is
// invalid or the secret is empty.
int hf_token_mint(const hf_token_claims *claims, std::string_view secret, std::string *out);

// The same claims as an HS256 JSON Web Token under the same secret
// (header alg, typ and kid; claims sub, device, exp and, if nonzero, iat),
// as a backend's JWT library would make it; errors as hf_token_mint.
int hf_token_mint_jwt(const hf_token_claims *claims, std::string_view secret, std::string *out);

// A JWT's signed part for claims under alg (base64url of the header and
// of the claims, and the dot between): what a signer signs. HF_ERR_BAD_FIELD
// if a name is invalid.
int hf_token_jwt_signing_input(const hf_token_claims *claims, std::string_view alg, std::string *out);

// Checks the token's form, key, signature and expiry (allowing skew_s
// seconds of clock difference). Returns HF_OK and fills claims, or
// HF_ERR_BAD_TOKEN, HF_ERR_UNKNOWN_KEY or HF_ERR_TOKEN_EXPIRED.
int hf_token_verify(std::string_view token, const hf_token_key *keys, size_t key_count, uint64_t now_s, uint64_t skew_s,
                    hf_token_claims *claims);

// SHA-256 of data, 32 bytes.
void hf_sha256(std::string_view data, unsigned char digest[32]);

// HMAC-SHA256 of data under secret, 32 bytes (hf1 tokens and HS256 JWTs).
bool hf_hmac_sha256(std::string_view secret, std::string_view data, unsigned char mac[32]);

// base64url without padding (RFC 4648 section 5).
void hf_base64url_encode(std::string_view in, std::string *out);
bool hf_base64url_decode(std::string_view in, std::string *out);

// n random bytes (OpenSSL's generator) as 2n lowercase hex digits: token
// secrets and the like.
std::string hf_random_hex(size_t n);
