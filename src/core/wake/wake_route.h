// A device's wake routes (docs/wake.md): how the daemon reaches it when
// its app is asleep. One route per provider, kept as the device's record
// "wake:<provider>" (the record's value is the route's JSON): a Web Push
// subscription (a browser page's or PWA's service worker), an FCM
// registration token (Android), or an APNs device token with its topic
// and environment (iOS).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "handoff/module.h"

enum class hf_wake_provider { webpush, fcm, apns };

// What every wake-up carries: that it is one, and nothing of any message.
#define HF_WAKE_PAYLOAD "{\"handoff\":\"wake\"}"

// "webpush", "fcm", "apns"; and back (false if it is none).
const char *hf_wake_provider_name(hf_wake_provider provider);
bool hf_wake_provider_from_name(std::string_view name, hf_wake_provider *provider);

struct hf_wake_route {
    hf_wake_provider provider = hf_wake_provider::webpush;
    std::string endpoint, p256dh, auth; // Web Push: the URL, the keys raw (65 and 16 bytes)
    std::string token;                  // FCM registration token, or APNs device token (hex)
    std::string topic;                  // APNs: the app's bundle id
    bool sandbox = false;               // APNs: environment "development"
};

// The record that keeps a provider's route: "wake:<provider>".
std::string hf_wake_record_name(hf_wake_provider provider);

// A route from what the API's PUT and a device's WAKE frame carry: one
// of {"webpush": PushSubscriptionJSON}, {"fcm": {"token": T}} or
// {"apns": {"token": T, "topic": B, "environment": "production" |
// "development"}}. False with *err saying what is wrong.
bool hf_wake_route_parse(std::string_view json, hf_wake_route *route, std::string *err);

// The route as that JSON (what its record keeps).
std::string hf_wake_route_json(const hf_wake_route &route);

// The wake routes among a device's records, in provider order.
std::vector<hf_wake_route> hf_wake_routes_of(const hf_store_record *records, size_t count);
