// A device's wake routes through the API (docs/wake.md): the app's
// backend sets one per provider (PUT .../devices/{device}/wake with
// {"webpush": ...}, {"fcm": ...} or {"apns": ...}), lists them (GET),
// drops one (DELETE .../wake/{provider}), and tries them
// (POST .../wake/test, handoffctl wake-test); GET /v1/wake/vapid gives
// the daemon's VAPID key that a page subscribes with.
#include "core/api/api_call.h"
#include "core/server/wake.h"
#include "proto/token.h"

namespace
{

// False once answered: no wake-ups here, or not through provider.
bool wake_served(hf_api_call *call)
{
    if (hf_wake_enabled(call->api->server))
        return true;
    hf_api_fail(call, 404, "not_found",
                "this server sends no wake-ups (no wake.* provider is configured, or its store keeps no device "
                "records)");
    return false;
}

json_t *routes_json(const hf_api_call *call, const hf_store_record *records, size_t count)
{
    json_t *routes = json_object();
    for (const hf_wake_route &route : hf_wake_routes_of(records, count)) {
        std::string text = hf_wake_route_json(route);
        json_t *parsed = json_loads(text.c_str(), 0, nullptr);
        json_object_update(routes, parsed);
        json_decref(parsed);
    }
    return json_pack("{s:s, s:s, s:o}", "account", call->account.c_str(), "device", call->device.c_str(), "routes",
                     routes);
}

void listed(void *arg, int status, const hf_store_record *records, size_t count)
{
    auto *call = static_cast<hf_api_call *>(arg);
    if (status != HF_STORE_OK)
        return hf_api_fail_store(call, status);
    hf_api_reply(call, 200, routes_json(call, records, count));
}

void list_after_write(void *arg, int status)
{
    auto *call = static_cast<hf_api_call *>(arg);
    if (status != HF_STORE_OK)
        return hf_api_fail_store(call, status);
    call->api->server->store(&hf_store_ops::records, call->account.c_str(), call->device.c_str(), listed, call);
}

// Only a device the account has gets routes: a typo is a 404, not a
// route kept for no one.
void device_listed(void *arg, int status, const char *const *devices, size_t count)
{
    auto *call = static_cast<hf_api_call *>(arg);
    if (status != HF_STORE_OK)
        return hf_api_fail_store(call, status);
    if (!hf_api_devices_known(call, std::vector<std::string>(devices, devices + count)))
        return;
    char *text = json_dumps(call->body, JSON_COMPACT);
    std::string body = text ? text : "";
    free(text);
    hf_wake_route route;
    bool unserved;
    std::string problem = hf_wake_route_problem(call->api->server, body, &route, &unserved);
    if (!problem.empty())
        return hf_api_fail(call, unserved ? 409 : 400, unserved ? "not_supported" : "bad_field", problem);
    hf_wake_set_route(call->api->server, call->account, call->device, route, list_after_write, call);
}

void trials_done(void *arg, int status, const std::vector<hf_wake_trial> &trials)
{
    auto *call = static_cast<hf_api_call *>(arg);
    if (status != HF_STORE_OK)
        return hf_api_fail_store(call, status);
    if (trials.empty())
        return hf_api_fail(call, 404, "not_found", "device \"" + call->device + "\" has no wake route");
    json_t *list = json_array();
    for (const hf_wake_trial &t : trials) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "provider", hf_wake_provider_name(t.provider), "outcome",
                              hf_wake_outcome_name(t.result.outcome), "detail", t.result.detail.c_str());
        json_object_set_new(o, "status", t.result.status ? json_integer(t.result.status) : json_null());
        json_array_append_new(list, o);
    }
    hf_api_reply(
        call, 200,
        json_pack("{s:s, s:s, s:o}", "account", call->account.c_str(), "device", call->device.c_str(), "trials", list));
}

} // namespace

void hf_api_set_wake_route(hf_api_call *call)
{
    if (!wake_served(call))
        return;
    if (!call->body)
        return hf_api_fail(call, 400, "bad_json",
                           "the body is the route: {\"webpush\": ...}, {\"fcm\": ...} or "
                           "{\"apns\": ...}");
    call->api->server->store(&hf_store_ops::list_devices, call->account.c_str(), device_listed, call);
}

void hf_api_list_wake_routes(hf_api_call *call)
{
    if (wake_served(call))
        call->api->server->store(&hf_store_ops::records, call->account.c_str(), call->device.c_str(), listed, call);
}

void hf_api_drop_wake_route(hf_api_call *call)
{
    hf_wake_provider provider;
    if (!wake_served(call))
        return;
    if (!hf_wake_provider_from_name(call->app, &provider))
        return hf_api_fail(call, 404, "not_found", "no wake provider \"" + call->app + "\": webpush, fcm or apns");
    hf_wake_drop_route(call->api->server, call->account, call->device, provider, list_after_write, call);
}

void hf_api_try_wake(hf_api_call *call)
{
    if (wake_served(call) && hf_api_no_fields(call))
        hf_wake_try(call->api->server, call->account, call->device, trials_done, call);
}

void hf_api_wake_vapid(hf_api_call *call)
{
    std::string key = hf_wake_vapid_key(call->api->server);
    if (key.empty())
        return hf_api_fail(call, 404, "not_found", "this server sends no Web Push wake-ups (wake.vapid_key_file)");
    std::string encoded;
    hf_base64url_encode(key, &encoded);
    hf_api_reply(call, 200, json_pack("{s:s}", "public_key", encoded.c_str()));
}
