// What a config must pass beyond its own file's rules, checked by
// handoffd -t and by every start before it binds a port or touches the
// store, so that each mistake is a config error (exit 78) and never a
// start that fails later (exit 1, which systemd would restart): the
// modules load and take their keys, their own rules hold
// (hf_store_ops.check), and no two listeners of the box share an address
// (with workers = N, worker k listens on listen.device and
// listen.websocket plus k).
#pragma once
#include <string>

#include "core/common/config.h"

// False and *err (one line that says what to change). Records in cfg what
// the store module says it is (store_traits, store_folder).
bool hf_config_check_whole(hf_config *cfg, std::string *err);
