// Web Push message encryption: RFC 8291's keys (a P-256 ECDH pair and a
// 16-byte auth secret on the receiving device) over RFC 8188's aes128gcm
// content coding, through OpenSSL. The device decrypts what a Web Push
// application server encrypted to its subscription; the same scheme
// carries end-to-end messages between devices. A body is one record:
//   salt (16) | rs (4, big-endian) | idlen (1) | sender's public key (65) | ciphertext
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

// Raw sizes: a P-256 private scalar, an uncompressed public point, an
// auth secret, and a body's header before its ciphertext.
#define HF_P256_PRIVATE_LEN 32
#define HF_P256_PUBLIC_LEN 65
#define HF_ECE_AUTH_LEN 16
#define HF_ECE_HEADER_LEN (16 + 4 + 1 + HF_P256_PUBLIC_LEN)
// What encryption adds to a plaintext: the header, the padding
// delimiter and the AEAD tag.
#define HF_ECE_OVERHEAD (HF_ECE_HEADER_LEN + 1 + 16)

// A device's ECDH key pair, raw (private 32 bytes, public 65).
struct hf_ece_keys {
    std::string private_key;
    std::string public_key;
};

// A new key pair; false only if OpenSSL fails.
bool hf_ece_keys_new(hf_ece_keys *out);

typedef struct evp_pkey_st EVP_PKEY;

// AES-GCM, AES-128 or AES-256 by the key's length (16 or 32 bytes), with
// a 12-byte nonce and associated data (empty: none): sealing appends the
// 16-byte tag, opening checks and strips it. False if it fails.
bool hf_aes_gcm(bool seal, std::string_view key, std::string_view nonce, std::string_view aad, std::string_view in,
                std::string *out);

// A P-256 public key from its uncompressed point (EVP_PKEY_free it); null
// if it is not one.
EVP_PKEY *hf_p256_public_key(std::string_view point);

// Whether raw is an uncompressed point on P-256.
bool hf_p256_public_valid(std::string_view raw);

// ECDSA P-256 with SHA-256 over data: the signature as JWS and WebCrypto
// write it, r then s, 32 bytes each. Sign: false if the key pair is not
// one; verify: whether sig is public_key's over data.
bool hf_p256_sign(const hf_ece_keys &keys, std::string_view data, std::string *sig);
bool hf_p256_verify(std::string_view public_key, std::string_view data, std::string_view sig);
// A raw r || s signature as the DER OpenSSL verifies; false if not 64 bytes.
bool hf_p256_sig_der(std::string_view raw, std::string *der);

// Decrypts an aes128gcm body sent to keys with auth. False with why (a
// static sentence: "not aes128gcm: ...", "does not decrypt ...") if it is
// not one for them.
bool hf_ece_decrypt(const hf_ece_keys &keys, std::string_view auth, std::string_view body, std::string *plaintext,
                    const char **why);

// Encrypts plaintext to the receiver's public key and auth secret as one
// aes128gcm record. sender (its key pair) and salt are for tests that
// reproduce a known body (RFC 8291, section 5); null and empty, they are
// made at random, as they must be.
bool hf_ece_encrypt(std::string_view receiver_public, std::string_view auth, std::string_view plaintext,
                    std::string *body, const hf_ece_keys *sender = nullptr, std::string_view salt = {});
