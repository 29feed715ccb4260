// store_lmdb's watchdog on a sync that stalls (sync = batch). A sync (the
// fdatasync on the sync thread) that runs past store.sync_timeout makes
// the store stalled until it ends: the enqueues waiting for it are
// answered store_unavailable (their senders resend, and a resend is told
// apart once the disk is back), new enqueues are refused the same way
// without being applied, and health() says why, so that /readyz sends no
// one here. Other writes (acknowledgements, devices) wait for the sync as
// they always do. The sync is not abandoned: what it covers may still
// reach the disk.
#pragma once
#include <cstddef>
#include <vector>

#include "modules/lmdb/lmdb_store.h"

namespace hf_lmdb
{

// Starts looking, on base; false when it cannot (out of memory).
bool watchdog_start(lmdb_store *s, event_base *base);
void watchdog_stop(lmdb_store *s);

// A sync begins (its commit is done), or the one under way has ended.
void watchdog_sync_began(lmdb_store *s);
void watchdog_sync_ended(lmdb_store *s);

// Takes the enqueues out of writes and answers them HF_STORE_UNAVAILABLE.
void refuse_enqueues(std::vector<pending_write> *writes);

// hf_store_ops.health: -1 and why while stalled, or after a failed disk.
int watchdog_health(void *store, char *why, size_t why_len);

} // namespace hf_lmdb
