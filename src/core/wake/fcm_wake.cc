#include "core/wake/fcm_wake.h"

#include <jansson.h>

#include <memory>

#include "core/wake/jwt_sign.h"
#include "proto/clock.h"

namespace
{

const uint64_t assertion_life_s = 3600;
// An access token is given up this long before it expires.
const uint64_t token_margin_ms = 60 * 1000;

using pending = hf_wake_pending<hf_fcm_wake>;

void answered(void *arg, const hf_http_response *response)
{
    std::unique_ptr<pending> p(static_cast<pending *>(arg));
    hf_wake_result result;
    if (hf_wake_common_outcome(*response, hf_wall_ms(), &result))
        return p->done(p->arg, &result);
    std::string code = hf_fcm_error_code(response->body);
    result = hf_wake_provider_outcome(*response, code, code == "UNREGISTERED" || response->status == 404);
    if (response->status == 401) {
        // The access token was refused (revoked, or expired early): buy
        // another and try again.
        p->provider->access_token.clear();
        result.outcome = hf_wake_outcome::retry;
    }
    p->done(p->arg, &result);
}

void send_now(hf_fcm_wake *f, const hf_wake_route &route, hf_wake_done_cb done, void *arg)
{
    const hf_wake_options *o = f->options;
    json_t *message = json_pack("{s:{s:s, s:{s:s}, s:{s:s, s:s, s:s}}}", "message", "token", route.token.c_str(),
                                "data", "handoff", "wake", "android", "priority", "high", "ttl",
                                (std::to_string(o->ttl_s) + "s").c_str(), "collapse_key", "handoffwake");
    char *body = json_dumps(message, JSON_COMPACT);
    json_decref(message);
    hf_http_request request;
    request.url = o->fcm_url + "/v1/projects/" + o->fcm_project + "/messages:send";
    request.body = body ? body : "";
    free(body);
    request.checked = false; // the operator's provider host
    request.headers = {"Authorization: Bearer " + f->access_token, "Content-Type: application/json"};
    hf_http_send(f->http, request, answered, new pending{f, done, arg});
}

void token_answered(void *arg, const hf_http_response *response)
{
    auto *f = static_cast<hf_fcm_wake *>(arg);
    f->fetching = false;
    std::vector<hf_fcm_wake::queued_send> waiting;
    waiting.swap(f->queued);
    json_t *root =
        response->status == 200 ? json_loadb(response->body.data(), response->body.size(), 0, nullptr) : nullptr;
    const char *token = json_string_value(json_object_get(root, "access_token"));
    json_int_t expires_in = json_integer_value(json_object_get(root, "expires_in"));
    if (token && *token && expires_in > 0) {
        f->access_token = token;
        f->expires_ms = hf_wall_ms() + uint64_t(expires_in) * 1000;
    }
    json_decref(root);
    hf_wake_result failure;
    if (f->access_token.empty() && !hf_wake_common_outcome(*response, hf_wall_ms(), &failure)) {
        failure.outcome = hf_wake_outcome::failed;
        failure.detail = "the service account's access token was refused: " + std::to_string(response->status) + " " +
                         response->body.substr(0, 200);
    }
    for (const auto &w : waiting) {
        if (f->access_token.empty())
            w.done(w.arg, &failure);
        else
            send_now(f, w.route, w.done, w.arg);
    }
}

// The JWT-bearer grant: an assertion signed with the service account's
// key, for the FCM scope, to its token_uri.
void fetch_token(hf_fcm_wake *f)
{
    const hf_wake_options *o = f->options;
    uint64_t now_s = hf_wall_ms() / 1000;
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", o->fcm_client_email.c_str(), "scope",
                               "https://www.googleapis.com/auth/firebase.messaging", "aud", o->fcm_token_uri.c_str(),
                               "iat", json_int_t(now_s), "exp", json_int_t(now_s + assertion_life_s));
    char *claims_text = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    std::string assertion, err;
    bool signed_ok = claims_text && hf_jwt_sign_rs256(o->fcm_private_key, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                                                      claims_text, &assertion, &err);
    free(claims_text);
    hf_http_request request;
    request.url = o->fcm_token_uri;
    request.checked = false;
    request.headers = {"Content-Type: application/x-www-form-urlencoded"};
    request.body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + assertion;
    f->fetching = true;
    if (!signed_ok) {
        hf_http_response refused;
        refused.refused = true;
        refused.error = "cannot sign the service account's assertion: " + err;
        return token_answered(f, &refused);
    }
    hf_http_send(f->http, request, token_answered, f);
}

} // namespace

std::string hf_fcm_error_code(const std::string &body)
{
    json_t *root = json_loadb(body.data(), body.size(), 0, nullptr);
    json_t *error = json_object_get(root, "error");
    std::string code;
    size_t i;
    json_t *detail;
    json_array_foreach(json_object_get(error, "details"), i, detail)
    {
        const char *c = json_string_value(json_object_get(detail, "errorCode"));
        if (c && code.empty())
            code = c;
    }
    if (code.empty()) {
        const char *status = json_string_value(json_object_get(error, "status"));
        code = status ? status : "";
    }
    json_decref(root);
    return code;
}

void hf_fcm_wake_send(hf_fcm_wake *f, const hf_wake_route &route, hf_wake_done_cb done, void *arg)
{
    if (!f->access_token.empty() && hf_wall_ms() + token_margin_ms < f->expires_ms)
        return send_now(f, route, done, arg);
    f->access_token.clear();
    f->queued.push_back({route, done, arg});
    if (!f->fetching)
        fetch_token(f);
}
