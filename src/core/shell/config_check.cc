#include "core/wake/wake_options.h"
#include "core/shell/config_check.h"

#include <vector>

#include "core/common/log.h"
#include "core/common/module_loader.h"
#include "core/box/rehome.h"
#include "core/box/supervisor.h"

namespace
{

struct listener {
    std::string what; // the key, and the worker when it is one's
    std::string address;
};

// The same port on the same host, or on a wildcard and any host.
bool same_address(const std::string &a, const std::string &b)
{
    if (hf_address_port(a) != hf_address_port(b))
        return false;
    return a == b || hf_address_is_wildcard(a) || hf_address_is_wildcard(b);
}

std::vector<listener> listeners_of(const hf_config &cfg)
{
    std::vector<listener> all;
    auto add = [&all](const std::string &what, const std::string &address) {
        if (!address.empty())
            all.push_back({what, address});
    };
    if (cfg.role != hf_role::server)
        add("listen.allocator", cfg.listen_allocator);
    add("metrics.listen", cfg.metrics_listen); // one for the whole box
    add("listen.api", cfg.listen_api);
    if (cfg.role == hf_role::allocator) {
        add("listen.websocket", cfg.listen_websocket);
        return all;
    }
    int workers = hf_workers_wanted(cfg);
    for (int k = 0; k < workers; k++) {
        hf_config w = workers > 1 ? hf_worker_config(cfg, k, workers) : cfg;
        std::string of = workers > 1 ? " of worker " + std::to_string(k) : "";
        add("listen.device" + of, w.listen_device);
        add("listen.websocket" + of, w.listen_websocket);
    }
    return all;
}

bool distinct_listeners(const hf_config &cfg, std::string *err)
{
    std::vector<listener> all = listeners_of(cfg);
    for (size_t i = 0; i < all.size(); i++)
        for (size_t j = i + 1; j < all.size(); j++) {
            if (!same_address(all[i].address, all[j].address))
                continue;
            *err = all[j].what + " (" + all[j].address + ") is the address of " + all[i].what + " (" + all[i].address +
                   ")";
            if (hf_workers_wanted(cfg) > 1)
                *err += "; with workers = " + std::to_string(hf_workers_wanted(cfg)) +
                        ", worker k listens on listen.device and listen.websocket plus k: leave that many ports free "
                        "after each";
            return false;
        }
    return true;
}

void check_log(void *, int level, const char *module, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char line[512];
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    hf_log(level, "%s: %s", module, line);
}

// The store's traits, and with HF_STORE_FOLDERS its `path` as resolved.
bool take_store_traits(hf_config *cfg, const hf_module_info &info, const hf_store_ops *ops,
                       const std::vector<hf_setting_value> &values, std::string *err)
{
    cfg->store_traits = hf_ops_reach(ops, &hf_store_ops::traits) ? ops->traits : 0;
    if (!(cfg->store_traits & HF_STORE_FOLDERS))
        return true;
    for (size_t i = 0; i < info.setting_count; i++)
        if (std::string(info.settings[i].name) == "path" && values[i].string) {
            cfg->store_folder = values[i].string;
            return true;
        }
    *err = std::string("store module ") + info.name + " keeps folders (HF_STORE_FOLDERS) but has no path setting";
    return false;
}

bool modules_configure(hf_config *cfg, std::string *err)
{
    if (cfg->role == hf_role::allocator)
        return true; // an allocator loads no module
    hf_config copy = *cfg;
    hf_host_api host{};
    host.abi_version = HF_MODULE_ABI_VERSION;
    host.log = check_log;
    std::vector<hf_setting_value> store_values, heartbeat_values;
    hf_loaded_module_ptr store, heartbeat;
    const hf_store_ops *store_ops = nullptr;
    const hf_heartbeat_ops *heartbeat_ops = nullptr;
    return hf_module_configure(&copy, &host, &copy.store, "store_", HF_MODULE_STORE, &store_values, &store, &store_ops,
                               err) &&
           take_store_traits(cfg, store->info, store_ops, store_values, err) &&
           hf_module_configure(&copy, &host, &copy.heartbeat, "hb_", HF_MODULE_HEARTBEAT, &heartbeat_values, &heartbeat,
                               &heartbeat_ops, err);
}

// The wake-up providers' files, read as the start reads them.
bool wake_files(const hf_config &cfg, std::string *err)
{
    hf_wake_options options;
    return hf_wake_options_load(cfg, &options, err);
}

} // namespace

bool hf_config_check_whole(hf_config *cfg, std::string *err)
{
    return distinct_listeners(*cfg, err) && modules_configure(cfg, err) && hf_store_layout_check(*cfg, err) &&
           wake_files(*cfg, err);
}
