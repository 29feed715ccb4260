// store_redis's device state: the API's view of a device (presence, last
// seen, queue, revocation) and the revocation HELLO reads and the API sets.
#pragma once
#include <cstddef>
#include <cstdint>

#include "handoff/module.h"

namespace hf_redis_store
{

void store_device_state(void *store, const char *account, const char *device, hf_store_state_cb cb, void *arg);

// One GET, on every HELLO.
void store_revocation(void *store, const char *account, const char *device, void (*cb)(void *, int, uint64_t, int),
                      void *arg);

void store_set_revocation(void *store, const char *account, const char *device, uint64_t not_before_ms, int revoked,
                          hf_store_done_cb cb, void *arg);

// A device's records: the hash P{A}v:D, name -> value.
void store_record_put(void *store, const char *account, const char *device, const char *name, const uint8_t *value,
                      size_t value_len, hf_store_done_cb cb, void *arg);
void store_records(void *store, const char *account, const char *device, hf_store_records_cb cb, void *arg);

} // namespace hf_redis_store
