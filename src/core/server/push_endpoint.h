// Web Push subscriptions as the server keeps them (docs/push.md): a
// device's record "push:<app>" per app, and the endpoint URL that names
// one to application servers. The endpoint's opaque part is sealed with
// push.key_file's key (AES-256-GCM): it carries the account, the device
// and the subscription's 16 random bytes, unreadable and unforgeable
// without the key, so a push finds its device without an index, and an
// endpoint is not a guessable name.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/module.h"

#define HF_SUBSCRIPTION_ID_LEN 16

// One device's subscription for one app.
struct hf_subscription {
    std::string app;
    std::string id; // HF_SUBSCRIPTION_ID_LEN random bytes
    uint64_t created_ms = 0;
    std::string vapid_key; // the application server's key (65 bytes), or empty: any sender
};

// The record name of app's subscription: "push:<app>".
std::string hf_subscription_record_name(std::string_view app);

// The record's value for sub, and sub from a record; false if the record
// is not a subscription (another kind, or damaged).
std::string hf_subscription_encode(const hf_subscription &sub);
bool hf_subscription_decode(const hf_store_record &record, hf_subscription *sub);

// The subscriptions among a device's records, in app order.
std::vector<hf_subscription> hf_subscriptions_of(const hf_store_record *records, size_t count);

// A new subscription's random id.
std::string hf_subscription_new_id();

// Parts (each at most 255 bytes) sealed with key, as base64url; and
// opened again: false unless sealed with key and of count parts. The
// first part says what the sealed text names, so that one kind of sealed
// text is never taken for another.
std::string hf_push_seal(const std::string &key, std::initializer_list<std::string_view> parts);
bool hf_push_unseal(const std::string &key, std::string_view sealed, size_t count, std::vector<std::string> *parts);

// The endpoint URL of a device's subscription: url "/push/" and the
// sealed part.
std::string hf_push_endpoint(const std::string &key, const std::string &url, std::string_view account,
                             std::string_view device, std::string_view id);

// The account, device and subscription id an endpoint's sealed part
// names; false if it was not sealed with key.
bool hf_push_endpoint_open(const std::string &key, std::string_view sealed, std::string *account, std::string *device,
                           std::string *id);
