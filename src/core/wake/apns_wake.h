// Wake-ups through APNs (iOS): a background push (content-available,
// priority 5) to the device token, over HTTP/2, with token-based
// authentication: an ES256 provider token made from the .p8 key, kept
// for 40 minutes (Apple refuses one older than an hour, and asks that it
// be made again no more than once every 20 minutes).
#pragma once
#include <cstdint>
#include <string>

#include "core/wake/http_client.h"
#include "core/wake/wake_options.h"
#include "core/wake/wake_result.h"

struct hf_apns_wake {
    const hf_wake_options *options;
    hf_http_client *http;
    std::string provider_token;
    uint64_t made_ms = 0; // wall clock
};

void hf_apns_wake_send(hf_apns_wake *a, const hf_wake_route &route, hf_wake_done_cb done, void *arg);

// The reason of an APNs error body ({"reason": "BadDeviceToken"}), or "".
std::string hf_apns_reason(const std::string &body);
