// Wake-ups through FCM HTTP v1 (Android): a data-only, high-priority
// message to the app's registration token, sent with an OAuth2 access
// token that a service account's signed assertion buys (RFC 7523, the
// JWT-bearer grant) and that is kept until shortly before it expires.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/wake/http_client.h"
#include "core/wake/wake_options.h"
#include "core/wake/wake_result.h"

struct hf_fcm_wake {
    const hf_wake_options *options;
    hf_http_client *http;
    std::string access_token;
    uint64_t expires_ms = 0; // wall clock
    bool fetching = false;
    struct queued_send {
        hf_wake_route route;
        hf_wake_done_cb done;
        void *arg;
    };
    std::vector<queued_send> queued; // waiting for an access token
};

void hf_fcm_wake_send(hf_fcm_wake *f, const hf_wake_route &route, hf_wake_done_cb done, void *arg);

// The errorCode of an FCM error body (UNREGISTERED, QUOTA_EXCEEDED, ...),
// or its status, or "".
std::string hf_fcm_error_code(const std::string &body);
