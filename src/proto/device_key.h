// A device's public keys for end-to-end messages between an account's
// devices, as the device publishes them through its server (HELLO's
// device_key) and its peers see them (PRESENCE, the HTTP API's device
// list): its P-256 ECDH key, which messages are encrypted to (RFC 8291's
// scheme, proto/ece.h), then its P-256 ECDSA key, which verifies what it
// sends. Each uncompressed, 65 bytes. The fingerprint is what people
// compare on two devices to know the server did not swap a key.
#pragma once
#include <string>
#include <string_view>

#define HF_DEVICE_KEY_LEN (2 * 65)

// Whether key is two uncompressed P-256 points.
bool hf_device_key_valid(std::string_view key);

// The key's fingerprint: the first 16 bytes of its SHA-256, as eight
// groups of four hex digits ("1a2b 3c4d ...").
std::string hf_device_key_fingerprint(std::string_view key);
