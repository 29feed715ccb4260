// store_lmdb's part in a box whose `workers` changed (core/box/rehome.h):
// the devices an environment holds, page by page, and one device's whole
// state moved into another environment of the same module.
#pragma once
#include "handoff/module.h"

namespace hf_lmdb
{

void store_each_device(void *store, const char *after_account, const char *after_device, uint32_t max,
                       hf_store_each_device_cb cb, void *arg);

void store_move_device(void *store, void *into, const char *account, const char *device, hf_store_done_cb cb,
                       void *arg);

} // namespace hf_lmdb
