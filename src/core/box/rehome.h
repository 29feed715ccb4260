// A box's store folders, and moving accounts between them when `workers`
// changes. With a store each worker has to itself (LMDB), worker k keeps
// its environment in store.path/worker-k, and one process (workers = 1)
// in store.path itself; an account lives in the folder of the worker it
// ranks first (hf_rendezvous_worker), which depends on the count and the
// workers' names alone (hf_allocation_worker_names). store.path/workers
// records the count and names the folders were last laid out for. When
// they differ, every device whose account now belongs to another
// folder is moved there, whole (hf_store_ops.move_device), before any
// worker serves; folders no count uses any more are removed once empty.
#pragma once
#include <string>

#include "core/common/config.h"

// The daemon's lock file in store.path (store_lock.h); with the layout
// file, the one file there that is none of the store's.
extern const char *const hf_store_lock_file;

// The configured store folder (the module's `path` as the config check
// resolved it: given, or its default).
std::string hf_store_folder(const hf_config &cfg);

// cfg's store folder changed to folder.
void hf_store_set_folder(hf_config *cfg, const std::string &folder);

// False and *err when store.path/workers is in a layout format newer
// than this handoffd reads (a config error: -t and every start refuse it).
bool hf_store_layout_check(const hf_config &cfg, std::string *err);

// Worker k's folder of a box of workers under root (root itself for one).
std::string hf_store_worker_folder(const std::string &root, int k, int workers);

// Lays the store out for workers, as above: at once when it already is
// and no folder outside the layout holds an environment (one that does
// is moved out every start). False and *err when a store cannot be
// opened, the record written, or a device moved (a full destination:
// moves keep store.reserve): then nothing may be served, the record keeps
// the former count, and the next start tries again.
bool hf_rehome(const hf_config &cfg, int workers, std::string *err);
