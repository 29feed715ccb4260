// GET /v1/status: what the server is and holds, with the store's word on
// its health; POST /v1/drain: the drain SIGTERM starts (devices are sent
// elsewhere, then the daemon exits).
#include "core/api/api_call.h"

namespace
{

void depth_read(void *arg, int status, uint64_t messages)
{
    auto *call = static_cast<hf_api_call *>(arg);
    if (!call->req) {
        hf_api_reply(call, 503, json_object());
        return;
    }
    hf_api *api = call->api;
    json_t *body = api->status(api->shell);
    json_t *store = json_pack("{s:s, s:b}", "module", api->cfg->store.module.c_str(), "healthy", status == HF_STORE_OK);
    json_object_set_new(store, "queue_messages",
                        status == HF_STORE_OK ? json_integer(json_int_t(messages)) : json_null());
    json_object_set_new(body, "store", store);
    hf_api_reply(call, 200, body);
}

} // namespace

void hf_api_status(hf_api_call *call)
{
    hf_server *srv = call->api->server;
    if (srv->store.has(&hf_store_ops::depth))
        srv->store(&hf_store_ops::depth, depth_read, call);
    else
        depth_read(call, HF_STORE_OK, 0);
}

void hf_api_drain(hf_api_call *call)
{
    hf_api *api = call->api;
    bool already = api->server->stopping;
    api->drain(api->shell);
    hf_api_reply(call, 202, json_pack("{s:b, s:b}", "draining", 1, "already", already));
}
