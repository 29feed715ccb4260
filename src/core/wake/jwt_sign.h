// The JWTs the daemon signs for push providers: ES256 for a Web Push
// service's VAPID header (RFC 8292) and the APNs provider token, RS256
// for the FCM OAuth2 assertion (RFC 7523). The keys come from PEM files
// (a VAPID key, an APNs .p8, a service account's private_key).
#pragma once
#include <string>

#include "proto/ece.h"

// A P-256 private key from PEM text (SEC 1 or PKCS #8) as raw keys;
// false with *err.
bool hf_p256_from_pem(const std::string &pem, hf_ece_keys *keys, std::string *err);

// A new P-256 private key as PEM (PKCS #8): handoffd --dev's VAPID key.
// "" if OpenSSL fails.
std::string hf_p256_pem_new();

// header_json.claims_json signed ES256 with keys, as a compact JWS.
std::string hf_jwt_sign_es256(const hf_ece_keys &keys, const std::string &header_json, const std::string &claims_json);

// header_json.claims_json signed RS256 with the RSA key in pem; false
// with *err if it is not one.
bool hf_jwt_sign_rs256(const std::string &pem, const std::string &header_json, const std::string &claims_json,
                       std::string *jwt, std::string *err);
