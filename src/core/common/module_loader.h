// Loading modules: dlopen, ABI version negotiation, the kind check, and the
// module's settings resolved from its config group.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/common/config.h"
#include "core/common/module_handle.h"
#include "handoff/module.h"

struct hf_loaded_module {
    void *handle = nullptr;
    hf_module_info info{};
    std::string path;
};

struct hf_loaded_module_deleter {
    void operator()(hf_loaded_module *m) const;
};
using hf_loaded_module_ptr = std::unique_ptr<hf_loaded_module, hf_loaded_module_deleter>;

// Loads <dir>/<prefix><name>.so, checks it speaks our ABI and is of the
// expected kind, and resolves its settings from the group. On failure
// returns null and sets *err (one line that says what to do).
hf_loaded_module_ptr hf_module_load(const hf_config *cfg, const hf_host_api *host, const char *prefix, uint32_t kind,
                                    const std::string &name, std::string *err);

// The size of an ops table as handoffd 0.1.0 first had it: the least a
// module's may be.
inline size_t hf_ops_first_size(const hf_store_ops *)
{
    return HF_STORE_OPS_V1_0_SIZE;
}
inline size_t hf_ops_first_size(const hf_heartbeat_ops *)
{
    return HF_HEARTBEAT_OPS_V1_0_SIZE;
}

// A module as a config names it, ready to open: loaded, its group's keys
// taken into *values, its ops table (Ops: hf_store_ops or
// hf_heartbeat_ops) at least as large as 0.1.0's, and its own rules on them
// (Ops::check) kept. False and *err, which is a config error.
template <typename Ops>
bool hf_module_configure(hf_config *cfg, const hf_host_api *host, hf_module_settings *group, const char *prefix,
                         uint32_t kind, std::vector<hf_setting_value> *values, hf_loaded_module_ptr *module,
                         const Ops **ops, std::string *err)
{
    *module = hf_module_load(cfg, host, prefix, kind, group->module, err);
    if (!*module || !hf_config_apply_module_settings(cfg, group, &(*module)->info, values, err))
        return false;
    *ops = static_cast<const Ops *>((*module)->info.ops);
    if ((*ops)->size < hf_ops_first_size(*ops)) {
        *err =
            "module " + (*module)->path + " has an ops table smaller than ABI 1's first (handoffd 0.1.0); rebuild it";
        return false;
    }
    char why[256] = "";
    if (hf_ops_has(*ops, &Ops::check) && (*ops)->check(values->data(), why, sizeof why) != 0) {
        *err = why;
        return false;
    }
    return true;
}

// The limits a store is opened with, from the config (the dedup ring's
// size rounded up to a power of two, at least 64).
hf_store_params hf_store_params_of(const hf_config &cfg);
