#include "core/wake/webpush_wake.h"

#include <memory>

#include "core/wake/jwt_sign.h"
#include "proto/clock.h"
#include "proto/token.h"

namespace
{

// A VAPID token is good for 24 hours at most (RFC 8292): made for 12,
// and made again after one.
const uint64_t token_life_s = 12 * 3600, token_reuse_ms = 3600 * 1000;

using pending = hf_wake_pending<hf_webpush_wake>;

void answered(void *arg, const hf_http_response *response)
{
    std::unique_ptr<pending> p(static_cast<pending *>(arg));
    hf_wake_result result;
    if (!hf_wake_common_outcome(*response, hf_wall_ms(), &result))
        result = hf_wake_provider_outcome(*response, response->body.substr(0, 200),
                                          response->status == 404 || response->status == 410);
    p->done(p->arg, &result);
}

const std::string &vapid_token(hf_webpush_wake *w, const std::string &audience)
{
    uint64_t now = hf_wall_ms();
    hf_webpush_wake::vapid_token &t = w->tokens[audience];
    if (t.jwt.empty() || now - t.made_ms > token_reuse_ms) {
        std::string claims = "{\"aud\":\"" + audience + "\",\"exp\":" + std::to_string(now / 1000 + token_life_s) +
                             ",\"sub\":\"" + w->options->vapid_subject + "\"}";
        t.jwt = hf_jwt_sign_es256(w->options->vapid, "{\"typ\":\"JWT\",\"alg\":\"ES256\"}", claims);
        t.made_ms = now;
    }
    return t.jwt;
}

} // namespace

std::string hf_url_origin(const std::string &url)
{
    size_t scheme_end = url.find("://");
    if (scheme_end == std::string::npos)
        return url;
    size_t path = url.find_first_of("/?#", scheme_end + 3);
    return url.substr(0, path);
}

void hf_webpush_wake_send(hf_webpush_wake *w, const hf_wake_route &route, hf_wake_done_cb done, void *arg)
{
    hf_http_request request;
    request.url = route.endpoint;
    if (!hf_ece_encrypt(route.p256dh, route.auth, HF_WAKE_PAYLOAD, &request.body)) {
        hf_http_response refused;
        refused.refused = true;
        refused.error = "the subscription's keys do not encrypt";
        answered(new pending{w, done, arg}, &refused);
        return;
    }
    std::string key;
    hf_base64url_encode(w->options->vapid.public_key, &key);
    request.headers = {"TTL: " + std::to_string(w->options->ttl_s),
                       "Urgency: high",
                       "Topic: handoffwake",
                       "Content-Encoding: aes128gcm",
                       "Content-Type: application/octet-stream",
                       "Authorization: vapid t=" + vapid_token(w, hf_url_origin(route.endpoint)) + ", k=" + key};
    hf_http_send(w->http, request, answered, new pending{w, done, arg});
}
