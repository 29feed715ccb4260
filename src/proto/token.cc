#include "proto/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>

#include "handoff/protocol.h"
#include "proto/utf8.h"
#include "proto/varint.h"

namespace
{

const char token_prefix[] = "hf1.";
const size_t mac_len = 32;

enum claim_tag : unsigned {
    claim_account = 1,
    claim_device = 2,
    claim_expires_at = 3,
    claim_key_id = 4,
    claim_issued_at_ms = 5 // optional: tokens minted before it existed have none
};

const unsigned required_claims =
    (1u << claim_account) | (1u << claim_device) | (1u << claim_expires_at) | (1u << claim_key_id);

void put_uint_claim(std::string *out, unsigned tag, uint64_t v)
{
    hf_varint_put(out, tag);
    hf_varint_put(out, hf_varint_size(v));
    hf_varint_put(out, v);
}

const char b64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

void put_text_claim(std::string *out, unsigned tag, std::string_view v)
{
    hf_varint_put(out, tag);
    hf_varint_put(out, v.size());
    out->append(v);
}

// Parses the claims TLV; every claim appears at most once, and all but
// issued_at_ms must.
bool parse_claims(std::string_view body, hf_token_claims *claims)
{
    const auto *p = reinterpret_cast<const uint8_t *>(body.data());
    size_t pos = 0, len = body.size();
    unsigned seen = 0;
    while (pos < len) {
        uint64_t tag = 0, flen = 0;
        size_t used = 0;
        if (hf_varint_get(p + pos, len - pos, &tag, &used) != HF_OK)
            return false;
        pos += used;
        if (hf_varint_get(p + pos, len - pos, &flen, &used) != HF_OK)
            return false;
        pos += used;
        if (flen > len - pos || tag < claim_account || tag > claim_issued_at_ms || (seen & (1u << tag)))
            return false;
        seen |= 1u << tag;
        std::string_view value(body.data() + pos, flen);
        switch (tag) {
        case claim_account:
            claims->account = value;
            break;
        case claim_device:
            claims->device = value;
            break;
        case claim_key_id:
            if (value.empty() || !hf_utf8_valid(value))
                return false;
            claims->key_id = value;
            break;
        case claim_expires_at:
        case claim_issued_at_ms: {
            size_t vused = 0;
            uint64_t *at = tag == claim_expires_at ? &claims->expires_at : &claims->issued_at_ms;
            if (hf_varint_get(p + pos, flen, at, &vused) != HF_OK || vused != flen)
                return false;
            break;
        }
        }
        pos += flen;
    }
    // A device's name never starts with '@': that is how messages from the
    // HTTP API (from "@<key id>") are told apart.
    return (seen & required_claims) == required_claims && hf_name_valid(claims->account) &&
           hf_name_valid(claims->device) && claims->device[0] != '@';
}

} // namespace

bool hf_name_valid(std::string_view name)
{
    if (name.empty() || name.size() > HF_NAME_MAX)
        return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-' || c == '@';
        if (!ok)
            return false;
    }
    return true;
}

void hf_base64url_encode(std::string_view in, std::string *out)
{
    const auto *p = reinterpret_cast<const uint8_t *>(in.data());
    size_t i = 0, n = in.size();
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
        for (int shift = 18; shift >= 0; shift -= 6)
            out->push_back(b64url_alphabet[(v >> shift) & 63]);
    }
    if (n - i == 1) {
        uint32_t v = uint32_t(p[i]) << 16;
        out->push_back(b64url_alphabet[(v >> 18) & 63]);
        out->push_back(b64url_alphabet[(v >> 12) & 63]);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8);
        out->push_back(b64url_alphabet[(v >> 18) & 63]);
        out->push_back(b64url_alphabet[(v >> 12) & 63]);
        out->push_back(b64url_alphabet[(v >> 6) & 63]);
    }
}

bool hf_base64url_decode(std::string_view in, std::string *out)
{
    if (in.size() % 4 == 1)
        return false;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v = b64url_value(c);
        if (v < 0)
            return false;
        acc = (acc << 6) | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // Leftover bits must be zero, so each token has one spelling.
    return (acc & ((1u << bits) - 1)) == 0;
}

int hf_token_mint(const hf_token_claims *claims, std::string_view secret, std::string *out)
{
    if (!hf_name_valid(claims->account) || !hf_name_valid(claims->device) || claims->device[0] == '@' ||
        claims->key_id.empty() || !hf_utf8_valid(claims->key_id) || secret.empty())
        return HF_ERR_BAD_FIELD;
    std::string body;
    put_text_claim(&body, claim_account, claims->account);
    put_text_claim(&body, claim_device, claims->device);
    put_uint_claim(&body, claim_expires_at, claims->expires_at);
    put_text_claim(&body, claim_key_id, claims->key_id);
    if (claims->issued_at_ms != 0)
        put_uint_claim(&body, claim_issued_at_ms, claims->issued_at_ms);

    std::string token = token_prefix;
    hf_base64url_encode(body, &token);
    unsigned char mac[EVP_MAX_MD_SIZE];
    if (!hf_hmac_sha256(secret, token, mac))
        return HF_ERR_INTERNAL;
    token.push_back('.');
    hf_base64url_encode(std::string_view(reinterpret_cast<const char *>(mac), mac_len), &token);
    *out = std::move(token);
    return HF_OK;
}

int hf_token_jwt_signing_input(const hf_token_claims *claims, std::string_view alg, std::string *out)
{
    // Names and key ids are of A-Z a-z 0-9 . _ - @: nothing to escape.
    if (!hf_name_valid(claims->account) || !hf_name_valid(claims->device) || claims->device[0] == '@' ||
        !hf_name_valid(claims->key_id))
        return HF_ERR_BAD_FIELD;
    std::string header = "{\"alg\":\"" + std::string(alg) + "\",\"kid\":\"" + claims->key_id + "\",\"typ\":\"JWT\"}";
    std::string body = "{\"device\":\"" + claims->device + "\",\"exp\":" + std::to_string(claims->expires_at);
    if (claims->issued_at_ms != 0)
        body += ",\"iat\":" + std::to_string(claims->issued_at_ms / 1000);
    body += ",\"sub\":\"" + claims->account + "\"}";
    out->clear();
    hf_base64url_encode(header, out);
    out->push_back('.');
    hf_base64url_encode(body, out);
    return HF_OK;
}

int hf_token_mint_jwt(const hf_token_claims *claims, std::string_view secret, std::string *out)
{
    std::string token;
    if (secret.empty() || hf_token_jwt_signing_input(claims, "HS256", &token) != HF_OK)
        return HF_ERR_BAD_FIELD;
    unsigned char mac[mac_len];
    if (!hf_hmac_sha256(secret, token, mac))
        return HF_ERR_INTERNAL;
    token.push_back('.');
    hf_base64url_encode(std::string_view(reinterpret_cast<const char *>(mac), mac_len), &token);
    *out = std::move(token);
    return HF_OK;
}

int hf_token_verify(std::string_view token, const hf_token_key *keys, size_t key_count, uint64_t now_s, uint64_t skew_s,
                    hf_token_claims *claims)
{
    if (token.size() > HF_TOKEN_MAX || token.substr(0, sizeof token_prefix - 1) != token_prefix)
        return HF_ERR_BAD_TOKEN;
    size_t dot = token.rfind('.');
    if (dot < sizeof token_prefix - 1)
        return HF_ERR_BAD_TOKEN;
    std::string_view signed_part = token.substr(0, dot);
    std::string body, mac;
    if (!hf_base64url_decode(signed_part.substr(sizeof token_prefix - 1), &body) ||
        !hf_base64url_decode(token.substr(dot + 1), &mac) || mac.size() != mac_len)
        return HF_ERR_BAD_TOKEN;
    hf_token_claims parsed;
    if (!parse_claims(body, &parsed))
        return HF_ERR_BAD_TOKEN;
    const hf_token_key *key = nullptr;
    for (size_t i = 0; i < key_count && !key; i++)
        if (keys[i].id == parsed.key_id)
            key = &keys[i];
    if (!key)
        return HF_ERR_UNKNOWN_KEY;
    unsigned char expected[EVP_MAX_MD_SIZE];
    if (!hf_hmac_sha256(key->secret, signed_part, expected) || CRYPTO_memcmp(expected, mac.data(), mac_len) != 0)
        return HF_ERR_BAD_TOKEN;
    if (parsed.expires_at + skew_s < now_s)
        return HF_ERR_TOKEN_EXPIRED;
    *claims = std::move(parsed);
    return HF_OK;
}

void hf_sha256(std::string_view data, unsigned char digest[32])
{
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
}

bool hf_hmac_sha256(std::string_view secret, std::string_view data, unsigned char mac[32])
{
    unsigned int len = 0;
    unsigned char out[EVP_MAX_MD_SIZE];
    if (!HMAC(EVP_sha256(), secret.data(), int(secret.size()), reinterpret_cast<const unsigned char *>(data.data()),
              data.size(), out, &len) ||
        len != mac_len)
        return false;
    memcpy(mac, out, mac_len);
    return true;
}

std::string hf_random_hex(size_t n)
{
    std::string bytes(n, '\0');
    RAND_bytes(reinterpret_cast<unsigned char *>(bytes.data()), int(n));
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char b : bytes) {
        hex += digits[b >> 4];
        hex += digits[b & 15];
    }
    return hex;
}
