// End-to-end messages between an account's devices (docs/protocol.md,
// "End-to-end messages"): a payload encrypted to the target device's
// published ECDH key (RFC 8291's aes128gcm, as Web Push is) and signed
// with the sender's ECDSA key, over who sent it to whom, so that the
// server can neither read it nor forge it, nor pass one device's copy to
// another. The payload is:
//   "hfe" 0x01 (4) | signature (64: r || s) | aes128gcm body
// and the signature covers "handoff e2e 1" 0x00 from 0x00 to 0x00 body.
#pragma once
#include <string>
#include <string_view>

#include "proto/ece.h"

// What an end-to-end payload adds to the plaintext: 4 + 64 + aes128gcm's.
#define HF_E2E_OVERHEAD (4 + 64 + HF_ECE_OVERHEAD)

// Whether payload has an end-to-end message's form (whoever made it: only
// hf_e2e_open says whether it is one).
bool hf_e2e_is(std::string_view payload);

// The payload of plaintext from `from` (its ECDSA pair, signing) to `to`
// (its published keys, proto/device_key.h); false if a key is not one.
bool hf_e2e_seal(const hf_ece_keys &signing, std::string_view from, std::string_view to, std::string_view to_device_key,
                 std::string_view plaintext, std::string *payload);

// The plaintext of a payload `from` sent to `to`: verified with from's
// published keys, decrypted with to's ECDH pair. False with why.
bool hf_e2e_open(const hf_ece_keys &ecdh, std::string_view from, std::string_view to, std::string_view from_device_key,
                 std::string_view payload, std::string *plaintext, const char **why);
