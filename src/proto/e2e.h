// End-to-end messages between an account's devices (docs/protocol.md,
// "End-to-end messages"): a payload encrypted to the target device's
// published ECDH key (RFC 8291's aes128gcm, as Web Push is) and signed
// with the sender's ECDSA key, over who sent it to whom, so that the
// server can neither read it nor forge it, nor pass one device's copy to
// another. The payload is:
//   "hfe" kind (4) | signature (64: r || s) | aes128gcm body
// and the signature covers a label for the kind, 0x00, from 0x00 to 0x00
// body. Kind 1 is a message ("handoff e2e 1"); kind 2 an approval of a
// device's key by another device of the account ("handoff approval 1"),
// whose plaintext is the approved device's name, 0x00, its keys.
#pragma once
#include <string>
#include <string_view>

#include "handoff/protocol.h"
#include "proto/ece.h"

// What an end-to-end payload adds to the plaintext (HF_E2E_OVERHEAD, in
// handoff/protocol.h): 4 + 64 + aes128gcm's.
static_assert(HF_E2E_OVERHEAD == 4 + 64 + HF_ECE_OVERHEAD);

enum class hf_e2e_kind { message = 1, approval = 2 };

// Whether payload has an end-to-end message's form (whoever made it: only
// hf_e2e_open says whether it is one).
bool hf_e2e_is(std::string_view payload);

// The payload of plaintext from `from` (its ECDSA pair, signing) to `to`
// (its published keys, proto/device_key.h); false if a key is not one.
bool hf_e2e_seal(const hf_ece_keys &signing, std::string_view from, std::string_view to, std::string_view to_device_key,
                 std::string_view plaintext, std::string *payload, hf_e2e_kind kind = hf_e2e_kind::message);

// The plaintext of a payload `from` sent to `to`, and its kind: verified
// with from's published keys, decrypted with to's ECDH pair. False with
// why.
bool hf_e2e_open(const hf_ece_keys &ecdh, std::string_view from, std::string_view to, std::string_view from_device_key,
                 std::string_view payload, std::string *plaintext, const char **why, hf_e2e_kind *kind = nullptr);

// An approval's plaintext, and back: false if it is not one.
std::string hf_e2e_approval(std::string_view device, std::string_view device_key);
bool hf_e2e_approval_parse(std::string_view plaintext, std::string *device, std::string *device_key);
