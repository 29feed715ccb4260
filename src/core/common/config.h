// handoffd.conf: one declarative table of keys (name, type, default,
// bounds, help). Parsing, `handoffd -t`, and the man page check all read it.
#pragma once
#include <string>
#include <vector>

#include "core/common/settings.h"

// Reads and checks the file. On failure returns false and sets *err to
// "file:line: message".
bool hf_config_load(const char *path, hf_config *cfg, std::string *err);

// Whether a host:port listens on every address (0.0.0.0, [::], "").
bool hf_address_is_wildcard(const std::string &address);

// The port of a host:port, as written ("" without one).
std::string hf_address_port(const std::string &address);

// True when the servers of a cluster (and the workers of a box) share one
// store (its module says HF_STORE_SHARED, as Redis does): any of them can
// take any account's messages. Known once the config check ran.
bool hf_store_is_shared(const hf_config &cfg);

// The role's name as the config writes it ("standalone", "server",
// "allocator"), for logs, /v1/status and metrics.
const char *hf_role_name(hf_role role);

// True when each worker has a store folder of its own (the store module
// says HF_STORE_FOLDERS, as LMDB does). Known once the config check ran.
bool hf_store_per_worker(const hf_config &cfg);

// Checks the keys of a module's group against its settings table and fills
// the resolved values (defaults for keys not given).
bool hf_config_apply_module_settings(hf_config *cfg, hf_module_settings *group, const hf_module_info *info,
                                     std::vector<hf_setting_value> *values, std::string *err);

// SIGHUP: copies from fresh into running every key that takes effect
// without a restart (limits, timeouts, token keys, log level); listeners,
// roles, modules and the store's quotas keep their running values.
void hf_config_apply_reload(const hf_config &fresh, hf_config *running);

// Every key the parser accepts, with its type, default and help, for the
// documentation check.
struct hf_config_key_doc {
    std::string name;
    std::string type;
    std::string default_value;
    std::string help;
};
std::vector<hf_config_key_doc> hf_config_key_docs(void);
