// What a provider's answer to a wake-up means for its route.
#pragma once
#include <cstdint>
#include <string>

#include "core/wake/http_client.h"

enum class hf_wake_outcome {
    sent,  // the provider took it
    gone,  // the route is dead (404/410, UNREGISTERED, BadDeviceToken): drop it
    retry, // try again later (429, 5xx, no answer), after retry_after_ms if the provider said
    failed // refused for good (a bad request, bad credentials)
};
const char *hf_wake_outcome_name(hf_wake_outcome outcome);

struct hf_wake_result {
    hf_wake_outcome outcome = hf_wake_outcome::failed;
    long status = 0;    // the provider's HTTP status, 0 for none
    std::string detail; // the provider's reason, or the transport's error
    uint64_t retry_after_ms = 0;
};

typedef void (*hf_wake_done_cb)(void *arg, const hf_wake_result *result);

// The answers every provider means alike: a request the endpoint policy
// refused failed; none (a transport failure), 429 and 5xx are worth a
// retry, after Retry-After if given. True with *out set for those; false
// for the provider to read the answer itself.
bool hf_wake_common_outcome(const hf_http_response &response, uint64_t now_ms, hf_wake_result *out);

// A provider's answer that hf_wake_common_outcome left to it: sent on
// 2xx, gone if the provider's reading says so, failed otherwise; the
// detail is the status and the provider's reason.
hf_wake_result hf_wake_provider_outcome(const hf_http_response &response, const std::string &reason, bool gone);

// A wake-up's request out to a provider: the provider's state, and whom
// to tell.
template <typename Provider>
struct hf_wake_pending {
    Provider *provider;
    hf_wake_done_cb done;
    void *arg;
};

// A Retry-After header's delay in ms (delta seconds or an HTTP date);
// 0 if absent or not one.
uint64_t hf_retry_after_ms(const std::string &value, uint64_t now_ms);
