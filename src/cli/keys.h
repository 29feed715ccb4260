// The device's key file (handoff(1), --keys FILE): its Web Push key pair
// and, per app it subscribed for, the auth secret and endpoint. JSON, mode
// 0600, rewritten whole (a new file renamed over the old):
//   {"version": 1, "private_key": B, "public_key": B,
//    "apps": {"<app>": {"auth": B, "endpoint": "https://..."}}}
// B: base64url of the raw bytes (32, 65 and 16).
#pragma once
#include <map>
#include <string>

struct cli_app_keys {
    std::string auth; // 16 bytes
    std::string endpoint;
};

struct cli_keys {
    std::string private_key, public_key; // empty until made
    std::map<std::string, cli_app_keys> apps;
};

// Reads path into keys; a file that does not exist is no keys yet. False
// with *err if it cannot be read or is not a key file.
bool cli_keys_load(const std::string &path, cli_keys *keys, std::string *err);

// Writes keys to path (mode 0600); false with *err.
bool cli_keys_save(const std::string &path, const cli_keys &keys, std::string *err);

// Makes the device's key pair if it has none; false if the random source
// fails.
bool cli_keys_ensure_pair(cli_keys *keys);

// Decrypts a push for app; false with *why.
bool cli_keys_open(const cli_keys &keys, const char *app, const uint8_t *body, size_t len, std::string *plaintext,
                   std::string *why);
