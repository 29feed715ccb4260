// A device's Web Push subscriptions through the API (docs/push.md): GET
// .../devices/{device}/subscriptions lists them with their endpoints, and
// POST .../subscriptions/{app}/revoke drops one, as the device's own
// unsubscribe does: its endpoint answers 410 from then on.
#include "core/api/api_call.h"
#include "core/server/push_endpoint.h"
#include "proto/token.h"

namespace
{

json_t *subscription_json(const hf_config &cfg, const hf_api_call *call, const hf_subscription &sub)
{
    std::string key;
    hf_base64url_encode(sub.vapid_key, &key);
    json_t *o = json_pack("{s:s, s:s, s:I}", "app", sub.app.c_str(), "endpoint",
                          hf_push_endpoint(cfg.push_key, cfg.push_url, call->account, call->device, sub.id).c_str(),
                          "created_ms", json_int_t(sub.created_ms));
    json_object_set_new(o, "vapid_key", sub.vapid_key.empty() ? json_null() : json_string(key.c_str()));
    return o;
}

void listed(void *arg, int status, const hf_store_record *records, size_t count)
{
    auto *call = static_cast<hf_api_call *>(arg);
    if (status != HF_STORE_OK)
        return hf_api_fail_store(call, status);
    json_t *subs = json_array();
    for (const hf_subscription &sub : hf_subscriptions_of(records, count))
        json_array_append_new(subs, subscription_json(*call->api->cfg, call, sub));
    hf_api_reply(call, 200,
                 json_pack("{s:s, s:s, s:o}", "account", call->account.c_str(), "device", call->device.c_str(),
                           "subscriptions", subs));
}

void removed(void *arg, int status)
{
    auto *call = static_cast<hf_api_call *>(arg);
    if (status != HF_STORE_OK)
        return hf_api_fail_store(call, status);
    hf_api_reply(call, 200,
                 json_pack("{s:s, s:s, s:s, s:b}", "account", call->account.c_str(), "device", call->device.c_str(),
                           "app", call->app.c_str(), "revoked", 1));
}

// Only a subscription that is there is revoked: a wrong app is a 404,
// not a silent success.
void found(void *arg, int status, const hf_store_record *records, size_t count)
{
    auto *call = static_cast<hf_api_call *>(arg);
    if (status != HF_STORE_OK)
        return hf_api_fail_store(call, status);
    for (const hf_subscription &sub : hf_subscriptions_of(records, count))
        if (sub.app == call->app) {
            std::string name = hf_subscription_record_name(sub.app);
            call->api->server->store(&hf_store_ops::record_put, call->account.c_str(), call->device.c_str(),
                                     name.c_str(), nullptr, 0, removed, call);
            return;
        }
    hf_api_fail(call, 404, "not_found",
                "device \"" + call->device + "\" has no subscription for app \"" + call->app + "\"");
}

// False once answered: Web Push is off here.
bool push_served(hf_api_call *call)
{
    if (!call->api->cfg->push_key.empty() && call->api->server->store.has(&hf_store_ops::records))
        return true;
    hf_api_fail(call, 404, "not_found", "this server does not serve Web Push (push.key_file)");
    return false;
}

} // namespace

void hf_api_list_subscriptions(hf_api_call *call)
{
    if (push_served(call))
        call->api->server->store(&hf_store_ops::records, call->account.c_str(), call->device.c_str(), listed, call);
}

void hf_api_revoke_subscription(hf_api_call *call)
{
    if (hf_api_no_fields(call) && push_served(call))
        call->api->server->store(&hf_store_ops::records, call->account.c_str(), call->device.c_str(), found, call);
}
