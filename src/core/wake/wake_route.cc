#include "core/wake/wake_route.h"

#include <jansson.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "proto/ece.h"
#include "proto/token.h"

namespace
{

struct json_deleter {
    void operator()(json_t *j) const { json_decref(j); }
};
using json_ptr = std::unique_ptr<json_t, json_deleter>;

const char *const names[] = {"webpush", "fcm", "apns"};
const char record_prefix[] = "wake:";

// A string member of at most max bytes; "" if absent or not one.
std::string text_of(json_t *object, const char *name, size_t max)
{
    const char *value = json_string_value(json_object_get(object, name));
    return value && strlen(value) <= max ? value : "";
}

bool fail(std::string *err, const std::string &why)
{
    *err = why;
    return false;
}

bool decode_key(const std::string &text, size_t len, std::string *out)
{
    std::string unpadded = text;
    while (!unpadded.empty() && unpadded.back() == '=')
        unpadded.pop_back();
    return hf_base64url_decode(unpadded, out) && out->size() == len;
}

bool parse_webpush(json_t *sub, hf_wake_route *route, std::string *err)
{
    route->endpoint = text_of(sub, "endpoint", 2048);
    json_t *keys = json_object_get(sub, "keys");
    if (route->endpoint.empty())
        return fail(err, "webpush: endpoint (a URL of at most 2048 bytes) is required");
    if (!decode_key(text_of(keys, "p256dh", 128), HF_P256_PUBLIC_LEN, &route->p256dh) ||
        !hf_p256_public_valid(route->p256dh))
        return fail(err, "webpush: keys.p256dh must be the subscription's P-256 public key, base64url (65 bytes)");
    if (!decode_key(text_of(keys, "auth", 64), HF_ECE_AUTH_LEN, &route->auth))
        return fail(err, "webpush: keys.auth must be the subscription's auth secret, base64url (16 bytes)");
    return true;
}

bool printable(const std::string &s)
{
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f)
            return false;
    return !s.empty();
}

bool parse_fcm(json_t *fcm, hf_wake_route *route, std::string *err)
{
    route->token = text_of(fcm, "token", 4096);
    if (!printable(route->token))
        return fail(err, "fcm: token (the app's registration token, at most 4096 characters) is required");
    return true;
}

bool parse_apns(json_t *apns, hf_wake_route *route, std::string *err)
{
    route->token = text_of(apns, "token", 200);
    route->topic = text_of(apns, "topic", 255);
    std::string environment = text_of(apns, "environment", 16);
    if (route->token.size() < 64 || route->token.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        return fail(err, "apns: token must be the device token, in hex (64 digits or more)");
    if (!printable(route->topic))
        return fail(err, "apns: topic (the app's bundle id) is required");
    if (!environment.empty() && environment != "production" && environment != "development")
        return fail(err, "apns: environment is \"production\" (the default) or \"development\"");
    route->sandbox = environment == "development";
    return true;
}

std::string encoded(const std::string &raw)
{
    std::string out;
    hf_base64url_encode(raw, &out);
    return out;
}

} // namespace

const char *hf_wake_provider_name(hf_wake_provider provider)
{
    return names[int(provider)];
}

bool hf_wake_provider_from_name(std::string_view name, hf_wake_provider *provider)
{
    for (int i = 0; i < 3; i++)
        if (name == names[i]) {
            *provider = hf_wake_provider(i);
            return true;
        }
    return false;
}

std::string hf_wake_record_name(hf_wake_provider provider)
{
    return std::string(record_prefix) + hf_wake_provider_name(provider);
}

bool hf_wake_route_parse(std::string_view json, hf_wake_route *route, std::string *err)
{
    json_error_t jerr;
    json_ptr root(json_loadb(json.data(), json.size(), JSON_REJECT_DUPLICATES, &jerr));
    if (!root || !json_is_object(root.get()) || json_object_size(root.get()) != 1)
        return fail(err, "a route is one of {\"webpush\": PushSubscriptionJSON}, {\"fcm\": {\"token\": ...}} or "
                         "{\"apns\": {\"token\": ..., \"topic\": ..., \"environment\": ...}}");
    const char *name = json_object_iter_key(json_object_iter(root.get()));
    json_t *value = json_object_iter_value(json_object_iter(root.get()));
    if (!hf_wake_provider_from_name(name, &route->provider) || !json_is_object(value))
        return fail(err, std::string("unknown wake provider \"") + name + "\": webpush, fcm or apns");
    switch (route->provider) {
    case hf_wake_provider::webpush:
        return parse_webpush(value, route, err);
    case hf_wake_provider::fcm:
        return parse_fcm(value, route, err);
    case hf_wake_provider::apns:
        return parse_apns(value, route, err);
    }
    return false;
}

std::string hf_wake_route_json(const hf_wake_route &route)
{
    json_t *inner = nullptr;
    switch (route.provider) {
    case hf_wake_provider::webpush:
        inner = json_pack("{s:s, s:{s:s, s:s}}", "endpoint", route.endpoint.c_str(), "keys", "p256dh",
                          encoded(route.p256dh).c_str(), "auth", encoded(route.auth).c_str());
        break;
    case hf_wake_provider::fcm:
        inner = json_pack("{s:s}", "token", route.token.c_str());
        break;
    case hf_wake_provider::apns:
        inner = json_pack("{s:s, s:s, s:s}", "token", route.token.c_str(), "topic", route.topic.c_str(), "environment",
                          route.sandbox ? "development" : "production");
        break;
    }
    json_ptr root(json_pack("{s:o}", hf_wake_provider_name(route.provider), inner));
    char *text = json_dumps(root.get(), JSON_COMPACT | JSON_SORT_KEYS);
    std::string out = text ? text : "";
    free(text);
    return out;
}

std::vector<hf_wake_route> hf_wake_routes_of(const hf_store_record *records, size_t count)
{
    std::vector<hf_wake_route> routes;
    for (size_t i = 0; i < count; i++) {
        std::string_view name(records[i].name);
        hf_wake_route route;
        std::string err;
        if (name.substr(0, sizeof record_prefix - 1) != record_prefix ||
            !hf_wake_route_parse(
                std::string_view(reinterpret_cast<const char *>(records[i].value), records[i].value_len), &route,
                &err) ||
            hf_wake_record_name(route.provider) != name)
            continue;
        routes.push_back(route);
    }
    std::sort(routes.begin(), routes.end(),
              [](const hf_wake_route &a, const hf_wake_route &b) { return a.provider < b.provider; });
    return routes;
}
