// store_lmdb's state and the shapes of what it writes: the tables, a
// device queue's metadata, an enqueue as the tick applies it, a write
// waiting for the tick, and the store itself. store_lmdb.cc holds the
// operations, lmdb_group.cc the group transaction and its group commit,
// lmdb_queue.cc the keys, records and the enqueue's steps.
#pragma once
#include <event2/event.h>
#include <lmdb.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "handoff/module.h"
#include "modules/common/local_presence.h"
#include "modules/common/record.h"
#include "modules/lmdb/syncer.h"
#include "modules/common/tail_cache.h"

#include "modules/lmdb/lmdb_durable.h"

namespace hf_lmdb
{

// One device's share of tail_cache: a device that stops fetching lets its
// tail grow to this, then loses it.
const size_t tail_per_device = 256 << 10;

enum class sync_mode { always, batch, off };

// Key layouts (all integers big-endian so byte order is numeric order):
//   msgs     dev 0x00 seq                      -> record
//   meta     dev                               -> next_seq, acked_upto, count, bytes
//   collapse dev 0x00 key                      -> seq
//   dedup    dev 0x00 from                     -> the pair's dedup record (dedup.h)
//   ttl      expires_at dev 0x00 seq           -> (empty)
//   devices  account 0x00 device               -> (empty) or its revocation
//   records  dev 0x00 name                     -> the device's record (hf_store_ops.record_put)
// where dev = account 0x00 device.
struct dbs {
    MDB_dbi msgs, meta, collapse, dedup, ttl, devices, records;
};

struct queue_meta {
    uint64_t next_seq = 1, acked_upto = 0, count = 0, bytes = 0;
};

// A meta table value into m; false (m untouched) for one of another size.
inline bool decode_meta(const MDB_val &v, queue_meta *m)
{
    if (v.mv_size != 32)
        return false;
    auto *p = static_cast<const uint8_t *>(v.mv_data);
    m->next_seq = hf_get_be64(p);
    m->acked_upto = hf_get_be64(p + 8);
    m->count = hf_get_be64(p + 16);
    m->bytes = hf_get_be64(p + 24);
    return true;
}

// What every queue of one account holds together (lmdb_accounts.h).
struct account_usage {
    uint64_t messages = 0, bytes = 0;
};

// An enqueue as the tick's transaction needs it: everything copied, since
// the request's pointers are valid only while store_enqueue runs.
struct enqueue_job {
    std::string dev, sender_key, record, collapse;
    uint64_t msg_id;
    std::string sender_ids; // the pair's dedup record, read by is_resend
    uint64_t payload_len, expires_at_ms, now_ms;
    uint64_t seq = 0;
    uint64_t collapsed = 0; // the older message of the collapse key it replaced
    int acked = 0;
    hf_store_enqueue_cb cb = nullptr;
    void *cb_arg = nullptr; // the host's, for cb and enqueue_applied
};

// A write waiting for the tick's transaction.
struct pending_write {
    std::function<int(MDB_txn *)> apply; // returns an hf_store_status
    std::function<void(int)> done;       // called after commit (and sync)
    int status = HF_STORE_OK;
    // For enqueues: the job, which apply and done point to. Owned here so
    // that their captures stay small enough to be kept inside the
    // std::functions: one allocation per message rather than three.
    std::unique_ptr<enqueue_job> enqueue;
};

struct lmdb_store {
    const hf_host_api *host;
    hf_store_params params;
    MDB_env *env = nullptr;
    dbs db{};
    sync_mode sync = sync_mode::batch;
    uint64_t sync_interval_ms = 10;
    std::vector<pending_write> queued; // for the next tick's apply
    // The open write transaction that ticks apply into, and the writes
    // applied in it, answered once it is committed (and synced).
    MDB_txn *group_txn = nullptr;
    std::vector<pending_write> group_writes;
    // sync = batch: committed group transactions by generation, waiting for the sync
    // thread to cover them.
    std::deque<std::pair<uint64_t, std::vector<pending_write>>> unsynced;
    uint64_t commit_gen = 0;
    hf_syncer *syncer = nullptr;
    event *apply_event = nullptr;
    hf_local_presence presence; // one server: in memory
    hf_tail_cache tail;
    uint64_t full_logged_ms = 0; // a full store is logged once a minute, not per commit
    // Enqueues stop (store_full) once the tables hold this many pages, so
    // that the rest of the map is there for what frees space: deleting
    // needs copy-on-write pages of its own (see room_for_enqueue).
    uint64_t page_size = 4096;
    uint64_t enqueue_page_limit = 0;
    // While no group transaction is open, reads use one read transaction kept reset
    // between them: renewing it costs far less than a new one.
    MDB_txn *read_txn = nullptr;
    bool read_txn_busy = false; // a read inside a read's callback opens its own
    // Queue metadata as applied (in the group transaction or committed), written into
    // LMDB once per device per group transaction, just before it commits, not once
    // per message: dirty_meta names the devices it changed.
    std::unordered_map<std::string, queue_meta> meta_cache;
    std::unordered_set<std::string> dirty_meta;
    // Accounts with anything queued, by name, as applied (lmdb_accounts.h).
    std::unordered_map<std::string, account_usage> accounts;
    // Should a group transaction be lost, its messages are gone but may have been
    // sent, and their seqs acknowledged later: seq_floors keeps those seqs
    // from being given again (an acknowledgement would delete a message
    // never sent).
    std::unordered_map<std::string, uint64_t> seq_floors;
    // The greatest keys put into msgs and ttl (see put_maybe_last).
    std::string greatest_msg_key, greatest_ttl_key;
    // Where the sweep of silent senders' dedup records goes on from: it
    // reads a slice of the table per sweep, not all of it.
    std::string dedup_sweep_from;
    // A sync failed: nothing is committed or acknowledged any more (every
    // write is answered HF_STORE_UNAVAILABLE) and the host was told to stop.
    bool failed = false;
    // sync = batch: the last commit's txnid, and where the sync thread
    // records it once synced (lmdb_durable.h).
    uint64_t last_commit_txnid = 0;
    durable_record durable;
    // sync = batch: when the sync under way began (0: none), how long one
    // may run (store.sync_timeout), and whether one ran past it: the disk
    // stalls (lmdb_watchdog.h).
    uint64_t sync_began_ms = 0;
    uint64_t sync_timeout_ms = 10000;
    bool stalled = false;
    event *watchdog = nullptr;
};

} // namespace hf_lmdb
