// One daemon per store folder. A second handoffd on the same store.path
// (other ports, the same config copied) would write the same LMDB
// environment beside the first, and its start would re-home worker
// folders under the first one's feet. Before anything touches the store,
// the daemon takes an exclusive flock on store.path/handoffd.lock and
// writes its pid there; the lock lasts as long as the process (a box's
// workers inherit it, so it outlives a supervisor killed with -9 until
// they have drained). A shared store (Redis) has no folder and no lock.
#pragma once
#include <string>

#include "core/common/config.h"

// Takes the lock when cfg's store keeps a folder of its own; false and
// *err ("store.path ... is in use by pid N") when another process holds it.
bool hf_store_lock(const hf_config &cfg, std::string *err);
