// Wake-ups through Web Push (RFC 8030): the small payload encrypted to
// the subscription (RFC 8291, aes128gcm), signed for the push service with
// the daemon's VAPID key (RFC 8292), at urgency high, under one Topic so
// that a push service keeps only the newest wake-up of a device.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "core/wake/http_client.h"
#include "core/wake/wake_options.h"
#include "core/wake/wake_result.h"

struct hf_webpush_wake {
    const hf_wake_options *options;
    hf_http_client *http;
    struct vapid_token {
        std::string jwt;
        uint64_t made_ms;
    };
    std::map<std::string, vapid_token> tokens; // by audience (the push service's origin)
};

void hf_webpush_wake_send(hf_webpush_wake *w, const hf_wake_route &route, hf_wake_done_cb done, void *arg);

// The origin of a URL (scheme://host[:port]): a VAPID token's audience.
std::string hf_url_origin(const std::string &url);
