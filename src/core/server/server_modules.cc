#include "core/server/server_modules.h"

#include "core/common/log.h"
#include "core/server/devices.h"
#include "core/server/presence.h"
#include "core/server/router.h"
#include "core/server/wake.h"
#include "proto/clock.h"

namespace
{

hf_server *server_of(void *host)
{
    return static_cast<hf_server *>(host);
}

event_base *host_event_base(void *host)
{
    return server_of(host)->conns->base;
}

uint64_t host_now_ms(void *)
{
    return hf_wall_ms();
}

void host_data_ready(void *host, const char *account, const char *device)
{
    hf_devices_data_ready(server_of(host), account, device);
}

void host_kick(void *host, const char *account, const char *device, int code)
{
    hf_devices_kick(server_of(host), account, device, code, hf_err_text(code));
}

void host_presence_changed(void *host, const char *account, const char *device, int online)
{
    hf_presence_changed(server_of(host), account, device, online != 0);
}

int host_enqueue_applied(void *, void *enqueue_arg, uint64_t seq)
{
    auto *arg = static_cast<hf_enqueue_arg *>(enqueue_arg);
    return arg->applied(arg, seq) ? 1 : 0;
}

void host_fatal(void *host, const char *module, const char *why)
{
    hf_server *srv = server_of(host);
    srv->fatal(srv->shell, module, why);
}

void fill_host(hf_server *srv, hf_host_api *host)
{
    host->abi_version = HF_MODULE_ABI_VERSION;
    host->host = srv;
    host->log = hf_module_log;
    host->event_base = host_event_base;
    host->now_ms = host_now_ms;
    host->data_ready = host_data_ready;
    host->kick = host_kick;
    host->presence_changed = host_presence_changed;
    host->enqueue_applied = host_enqueue_applied;
    host->fatal = host_fatal;
}

// Wake-ups, when a provider is configured (their files were read by -t
// too: the same function fails the same way).
bool open_wake(hf_server *srv, const hf_config &cfg, std::string *err)
{
    hf_wake_options options;
    if (!hf_wake_options_load(cfg, &options, err))
        return false;
    bool any = false;
    for (auto provider : {hf_wake_provider::webpush, hf_wake_provider::fcm, hf_wake_provider::apns})
        any = any || hf_wake_serves(options, provider);
    if (!any)
        return true;
    hf_wake_sender *sender = hf_wake_sender_new(srv->conns->base, options);
    if (!sender) {
        *err = "wake-ups: libcurl failed to start";
        return false;
    }
    srv->wake = hf_wake_new(srv, sender);
    if (!hf_wake_enabled(srv))
        hf_log(HF_LOG_WARNING, "store \"%s\" keeps no device records: no wake routes, so no wake-ups",
               cfg.store.module.c_str());
    return true;
}

} // namespace

bool hf_server_open(hf_server *srv, hf_config *cfg, std::string *err)
{
    fill_host(srv, &srv->host);
    if (!hf_module_configure(cfg, &srv->host, &cfg->store, "store_", HF_MODULE_STORE, &cfg->store_values,
                             &srv->store_module, &srv->store.ops, err) ||
        !hf_module_configure(cfg, &srv->host, &cfg->heartbeat, "hb_", HF_MODULE_HEARTBEAT, &cfg->heartbeat_values,
                             &srv->heartbeat_module, &srv->heartbeat.ops, err))
        return false;
    hf_store_params params = hf_store_params_of(*cfg);
    char module_err[256] = "";
    if (srv->store.ops->open(&srv->host, &params, cfg->store_values.data(), &srv->store.instance, module_err,
                             sizeof module_err) != 0) {
        *err = "store \"" + cfg->store.module + "\" failed to open: " + module_err;
        return false;
    }
    if (!srv->store.has(&hf_store_ops::queued_devices))
        hf_log(HF_LOG_WARNING,
               "store \"%s\" is older than limits.account_max_messages and limits.account_max_bytes: it does not "
               "enforce them, and the API cannot list an account's queues",
               cfg->store.module.c_str());
    if (srv->heartbeat.ops->open(&srv->host, cfg->heartbeat_values.data(), &srv->heartbeat.instance, module_err,
                                 sizeof module_err) != 0) {
        *err = "heartbeat \"" + cfg->heartbeat.module + "\" failed to open: " + module_err;
        return false;
    }
    srv->router = hf_router_new(srv);
    return open_wake(srv, *cfg, err);
}

void hf_server_close(hf_server *srv)
{
    hf_wake_close(srv->wake);
    if (srv->store.instance)
        srv->store.ops->close(srv->store.instance); // may complete enqueues: the router is still there
    hf_router_free(srv->router);
    srv->router = nullptr;
    hf_wake_free(srv->wake);
    srv->wake = nullptr;
    if (srv->heartbeat.instance)
        srv->heartbeat.ops->close(srv->heartbeat.instance);
    srv->store.instance = srv->heartbeat.instance = nullptr;
    srv->store_module.reset();
    srv->heartbeat_module.reset();
}
