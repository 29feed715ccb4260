#include "core/common/module_loader.h"

#include <dlfcn.h>

void hf_loaded_module_deleter::operator()(hf_loaded_module *m) const
{
    if (m->handle)
        dlclose(m->handle);
    delete m;
}

hf_loaded_module_ptr hf_module_load(const hf_config *cfg, const hf_host_api *host, const char *prefix, uint32_t kind,
                                    const std::string &name, std::string *err)
{
    hf_loaded_module_ptr m(new hf_loaded_module);
    m->path = cfg->module_dir + "/" + prefix + name + ".so";
    m->handle = dlopen(m->path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!m->handle) {
        *err = "cannot load module " + m->path + ": " + dlerror() +
               " (check modules.dir or HANDOFF_MODULE_DIR, and the module name)";
        return nullptr;
    }
    auto version_fn = reinterpret_cast<hf_module_version_fn>(dlsym(m->handle, "handoff_module_version"));
    auto init_fn = reinterpret_cast<hf_module_init_fn>(dlsym(m->handle, "handoff_module_init"));
    if (!version_fn || !init_fn) {
        *err = "module " + m->path + " lacks handoff_module_version or handoff_module_init: not a handoff module";
        return nullptr;
    }
    const int supported[] = {HF_MODULE_ABI_VERSION};
    int picked = version_fn(1, supported);
    if (picked != HF_MODULE_ABI_VERSION) {
        *err = "module " + m->path +
               " speaks no ABI version this daemon speaks (daemon: " + std::to_string(HF_MODULE_ABI_VERSION) +
               ", module picked: " + std::to_string(picked) + "); rebuild the module against this handoff";
        return nullptr;
    }
    if (init_fn(host, &m->info) != 0) {
        *err = "module " + m->path + " failed to initialise";
        return nullptr;
    }
    if (m->info.abi_version != HF_MODULE_ABI_VERSION) {
        *err = "module " + m->path + " declared ABI version " + std::to_string(m->info.abi_version) +
               " but this daemon speaks " + std::to_string(HF_MODULE_ABI_VERSION) + "; rebuild the module";
        return nullptr;
    }
    if (m->info.kind != kind || !m->info.ops) {
        *err = "module " + m->path + " is not a " + (kind == HF_MODULE_STORE ? "store" : "heartbeat") + " module";
        return nullptr;
    }
    return m;
}

hf_store_params hf_store_params_of(const hf_config &cfg)
{
    uint64_t dedup_ids = 64;
    while (dedup_ids < uint64_t(cfg.dedup_ids))
        dedup_ids <<= 1;
    return {uint64_t(cfg.queue_max_messages),
            uint64_t(cfg.queue_max_bytes),
            uint64_t(cfg.dedup_window_ms),
            cfg.server_id.c_str(),
            dedup_ids,
            uint64_t(cfg.account_max_messages),
            uint64_t(cfg.account_max_bytes)};
}
