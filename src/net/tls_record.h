// TLS 1.3 record protection (RFC 8446 section 5.2) done by us, after
// OpenSSL has done the handshake: a connection then needs its two traffic
// secrets, a few keys and two sequence numbers (about 200 bytes) instead
// of an SSL object and its cipher contexts (about 10 KiB), and a read can
// open every record it brought in one go.
//
// Nothing here does I/O: bytes in, bytes out.
#pragma once
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>

enum : size_t {
    HF_TLS_HEADER = 5,                        // type, legacy version, length
    HF_TLS_TAG = 16,                          // every TLS 1.3 AEAD's tag
    HF_TLS_MAX_PLAIN = 16384,                 // 2^14
    HF_TLS_MAX_BODY = HF_TLS_MAX_PLAIN + 256, // the most a protected record may carry
    HF_TLS_SEAL_OVERHEAD = HF_TLS_HEADER + 1 + HF_TLS_TAG,
    HF_TLS_MAX_SECRET = 48, // SHA-384
};

enum hf_tls_content : uint8_t {
    HF_TLS_CHANGE_CIPHER_SPEC = 20,
    HF_TLS_ALERT = 21,
    HF_TLS_HANDSHAKE = 22,
    HF_TLS_APPLICATION_DATA = 23,
};

// A TLS 1.3 cipher suite: its AEAD and the hash its key schedule uses.
struct hf_tls_suite {
    const EVP_CIPHER *aead = nullptr;
    const EVP_MD *hash = nullptr;
    size_t key_len = 0;
    size_t hash_len = 0;
};

// The suite with this IANA number (0x1301-0x1303); false for any other.
bool hf_tls_suite_find(uint16_t iana_id, hf_tls_suite *out);

// One direction of a connection.
struct hf_tls_traffic {
    uint8_t secret[HF_TLS_MAX_SECRET];
    uint8_t key[32];
    uint8_t iv[12];
    uint64_t seq = 0;    // records protected with this key so far
    uint64_t key_id = 0; // tells the shared cipher contexts which key they hold
};

// Cipher contexts shared by every connection of one thread: one keyed
// context per connection would cost a kilobyte each. Switching a context
// to another connection's key is one key schedule.
struct hf_tls_aead;
hf_tls_aead *hf_tls_aead_new(void);
void hf_tls_aead_free(hf_tls_aead *a);

// True when no context holds a connection's key schedule.
bool hf_tls_aead_idle(const hf_tls_aead *a);

// A connection's key goes (it closed, or moved to its next key): the
// context that holds its schedule is wiped.
void hf_tls_aead_forget(hf_tls_aead *a, uint64_t key_id);

// Sets the traffic keys from a traffic secret; seq counts the records
// already protected with it. False if the key schedule fails.
bool hf_tls_traffic_init(hf_tls_aead *a, hf_tls_traffic *t, const hf_tls_suite *s, const uint8_t *secret, uint64_t seq);

// KeyUpdate: the next generation of secret and keys (section 7.2).
bool hf_tls_traffic_update(hf_tls_aead *a, hf_tls_traffic *t, const hf_tls_suite *s);

// Protects len bytes of content type into out, which holds len +
// HF_TLS_SEAL_OVERHEAD bytes: header, ciphertext, tag. A sender keeps len
// within HF_TLS_MAX_PLAIN; this refuses only what no record body holds
// (so that tests can make content too long for a record).
bool hf_tls_seal(hf_tls_aead *a, hf_tls_traffic *t, const hf_tls_suite *s, uint8_t type, const uint8_t *plain,
                 size_t len, uint8_t *out);

// bad_record: not a well-formed protected record, or no content type in
// it (only padding); overflow: content past 2^14 bytes (record_overflow).
enum class hf_tls_open_result { ok, bad_record, bad_mac, overflow };

// Opens one whole record (header and body, body at most HF_TLS_MAX_BODY)
// into out (room for the body's length): the content and, in *type, its
// inner content type, padding removed.
hf_tls_open_result hf_tls_open(hf_tls_aead *a, hf_tls_traffic *t, const hf_tls_suite *s, const uint8_t *record,
                               size_t record_len, uint8_t *out, size_t *out_len, uint8_t *type);
