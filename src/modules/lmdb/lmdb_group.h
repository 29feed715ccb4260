// store_lmdb's group transaction: the open write transaction every tick applies its
// writes into, committed at most once per sync (sync = batch) or every
// tick, the sync thread's part, and reads that see what the group transaction holds.
#pragma once
#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "modules/lmdb/lmdb_store.h"

namespace hf_lmdb
{

// A transaction to read in: the group transaction when one is open (it holds what
// was applied and not yet committed), else a read transaction.
struct reader {
    MDB_txn *txn = nullptr;
    bool in_group = false; // nothing to end
    bool kept = false;     // s->read_txn, renewed: reset when done
};

// Commits the group transaction. With sync = batch its writes wait for the sync of
// the generation returned (0: nothing to sync); otherwise they are
// answered now.
uint64_t commit_group(void *arg);

// The tick: every queued write applied straight into the group transaction, then
// published.
void apply_queued(evutil_socket_t, short, void *arg);

// On the sync thread: commits go to the kernel at once (MDB_NOSYNC); this
// waits for the disk. LMDB's sync is an fdatasync of the data file, safe
// beside a write transaction on the reactor.
int sync_env(void *arg);

// Answers the writes of every group transaction up to synced_gen; those a failed sync
// covered may not be on disk, so they are answered with an error.
void answer_synced(void *arg, uint64_t synced_gen, uint64_t failed_gen);

// At close, on the reactor: the last sync, once the thread has stopped.
void sync_all(lmdb_store *s);

// Queues a write for the next tick: apply runs in the group transaction, done once
// it is committed (and synced). enqueue: the job they point to, kept with them.
void queue_write(lmdb_store *s, std::function<int(MDB_txn *)> apply, std::function<void(int)> done,
                 std::unique_ptr<enqueue_job> enqueue = nullptr);

// Starts a read: 0 or an LMDB error; end_read only after 0.
int begin_read(lmdb_store *s, reader *r);

void end_read(lmdb_store *s, reader *r);

} // namespace hf_lmdb
