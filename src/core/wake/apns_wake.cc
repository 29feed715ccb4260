#include "core/wake/apns_wake.h"

#include <jansson.h>

#include <memory>

#include "core/wake/jwt_sign.h"
#include "proto/clock.h"

namespace
{

const uint64_t token_reuse_ms = 40 * 60 * 1000;

using pending = hf_wake_pending<hf_apns_wake>;

void answered(void *arg, const hf_http_response *response)
{
    std::unique_ptr<pending> p(static_cast<pending *>(arg));
    hf_wake_result result;
    if (hf_wake_common_outcome(*response, hf_wall_ms(), &result))
        return p->done(p->arg, &result);
    std::string reason = hf_apns_reason(response->body);
    result = hf_wake_provider_outcome(
        *response, reason, response->status == 410 || reason == "BadDeviceToken" || reason == "Unregistered");
    if (reason == "ExpiredProviderToken") {
        // Apple's clock says the token is old: make another, and retry.
        p->provider->provider_token.clear();
        result.outcome = hf_wake_outcome::retry;
    }
    p->done(p->arg, &result);
}

const std::string &provider_token(hf_apns_wake *a)
{
    uint64_t now = hf_wall_ms();
    if (a->provider_token.empty() || now - a->made_ms > token_reuse_ms) {
        const hf_wake_options *o = a->options;
        a->provider_token =
            hf_jwt_sign_es256(o->apns_key, "{\"alg\":\"ES256\",\"kid\":\"" + o->apns_key_id + "\"}",
                              "{\"iss\":\"" + o->apns_team_id + "\",\"iat\":" + std::to_string(now / 1000) + "}");
        a->made_ms = now;
    }
    return a->provider_token;
}

} // namespace

std::string hf_apns_reason(const std::string &body)
{
    json_t *root = json_loadb(body.data(), body.size(), 0, nullptr);
    const char *reason = json_string_value(json_object_get(root, "reason"));
    std::string out = reason ? reason : "";
    json_decref(root);
    return out;
}

void hf_apns_wake_send(hf_apns_wake *a, const hf_wake_route &route, hf_wake_done_cb done, void *arg)
{
    const hf_wake_options *o = a->options;
    hf_http_request request;
    request.url = (route.sandbox ? o->apns_sandbox_url : o->apns_url) + "/3/device/" + route.token;
    request.http2 = true;
    request.checked = false; // the operator's provider host
    request.body = "{\"aps\":{\"content-available\":1},\"handoff\":\"wake\"}";
    request.headers = {"authorization: bearer " + provider_token(a),
                       "apns-push-type: background",
                       "apns-priority: 5",
                       "apns-topic: " + route.topic,
                       "apns-collapse-id: handoffwake",
                       "apns-expiration: " + std::to_string(hf_wall_ms() / 1000 + o->ttl_s),
                       "content-type: application/json"};
    hf_http_send(a->http, request, answered, new pending{a, done, arg});
}
