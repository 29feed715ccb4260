// The device's key file (hf_client_use_keys; handoff(1), --keys FILE):
// its P-256 ECDH pair
// (Web Push and end-to-end messages are encrypted to it), its P-256
// ECDSA pair (what it sends end to end is signed with it), per app it
// subscribed for the auth secret and endpoint, and the keys of the
// account's other devices as it trusts them. JSON, mode 0600, rewritten
// whole (a new file renamed over the old):
//   {"version": 1, "private_key": B, "public_key": B,
//    "signing_private_key": B, "signing_public_key": B,
//    "apps": {"<app>": {"auth": B, "endpoint": "https://..."}},
//    "peers": {"<device>": {"key": B, "state": "trusted" | "verified"}}}
// B: base64url of the raw bytes (private keys 32, public 65, auth 16,
// a peer's key 130: proto/device_key.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

struct hf_key_file_app {
    std::string auth; // 16 bytes
    std::string endpoint;
};

// A peer device's key as this one trusts it: on first use, or verified
// by its user (its fingerprint compared on both devices).
struct hf_key_file_peer {
    std::string key;
    std::string state; // "trusted" or "verified"
};

struct hf_key_file {
    std::string path;
    std::string private_key, public_key;                 // ECDH; empty until made
    std::string signing_private_key, signing_public_key; // ECDSA; empty until made
    std::map<std::string, hf_key_file_app> apps;
    std::map<std::string, hf_key_file_peer> peers;
};

// Reads path into keys (a file that does not exist is no keys yet),
// makes the device's keys if it has none, and then writes the file.
// False with *err if it cannot be read or written, or is not a key file.
bool hf_key_file_open(const std::string &path, hf_key_file *keys, std::string *err);

// The keys the device publishes (proto/device_key.h): ECDH, then ECDSA.
std::string hf_key_file_device_key(const hf_key_file &keys);

// Writes keys to keys.path (mode 0600); false with *err.
bool hf_key_file_save(const hf_key_file &keys, std::string *err);

// Where a peer's published key stands against the key file (enum
// hf_key_state): HF_KEY_NEW (seen for the first time: trusted from now
// on, *changed set), HF_KEY_TRUSTED, HF_KEY_VERIFIED, HF_KEY_CHANGED
// (another key than the one trusted: not to be used until verified), or
// HF_KEY_NONE (key empty: it published none).
int hf_key_file_trust(hf_key_file *keys, const std::string &device, const std::string &key, bool *changed);

// Decrypts a push for app; false with *why.
bool hf_key_file_open_push(const hf_key_file &keys, const char *app, const uint8_t *body, size_t len,
                           std::string *plaintext, std::string *why);
