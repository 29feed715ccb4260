// A device's published public keys (proto/device_key.h): HELLO's
// device_key is kept as the device's record "keys" when it differs from
// what is there, and read back for its peers (PRESENCE, the HTTP API).
// The server only relays them: a device trusts a peer's key on first use
// and refuses one that changed until its user verifies it.
#pragma once
#include <string>

#include "handoff/module.h"

struct hf_server;
struct hf_session;

// Whether this server keeps and relays device keys: its store keeps
// device records.
bool hf_keys_enabled(const hf_server *srv);

// Keeps key as s's published keys (after its HELLO was admitted).
void hf_keys_publish(hf_session *s, const std::string &key);

// A revoked device's keys go: it leaves every peer's recipients at once
// (its next HELLO, once restored, publishes them again).
void hf_keys_forget(hf_server *srv, const std::string &account, const std::string &device);

// The keys among a device's records ("" if it published none).
std::string hf_keys_of(const hf_store_record *records, size_t count);
