// Loading modules: dlopen, ABI version negotiation, the kind check, and the
// module's settings resolved from its config group.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/common/config.h"
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
