// The device's key file (handoff(1), --keys FILE): its P-256 ECDH pair
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
#include <map>
#include <string>

struct cli_app_keys {
    std::string auth; // 16 bytes
    std::string endpoint;
};

// A peer device's key as this one trusts it: on first use, or verified
// by its user (its fingerprint compared on both devices).
struct cli_peer {
    std::string key;
    std::string state; // "trusted" or "verified"
};

struct cli_keys {
    std::string private_key, public_key;                 // ECDH; empty until made
    std::string signing_private_key, signing_public_key; // ECDSA; empty until made
    std::map<std::string, cli_app_keys> apps;
    std::map<std::string, cli_peer> peers;
};

// Reads path (making the device's keys, and writing the file, if it has
// none yet): false with *err.
bool cli_keys_open_file(const std::string &path, cli_keys *keys, std::string *err);

// The keys the device publishes (proto/device_key.h): ECDH, then ECDSA.
std::string cli_keys_device_key(const cli_keys &keys);

// Reads path into keys; a file that does not exist is no keys yet. False
// with *err if it cannot be read or is not a key file.
bool cli_keys_load(const std::string &path, cli_keys *keys, std::string *err);

// Writes keys to path (mode 0600); false with *err.
bool cli_keys_save(const std::string &path, const cli_keys &keys, std::string *err);

// Where a peer's published key stands against the key file: "new" (seen
// for the first time: trusted from now on, *changed set), "trusted",
// "verified", "changed" (another key than the one trusted: not to be
// used until verified), or "none" (key empty: it published none).
std::string cli_keys_trust(cli_keys *keys, const std::string &device, const std::string &key, bool *changed);

// Decrypts a push for app; false with *why.
bool cli_keys_open(const cli_keys &keys, const char *app, const uint8_t *body, size_t len, std::string *plaintext,
                   std::string *why);
