#include "modules/lmdb/lmdb_group.h"

#include <sys/statvfs.h>

#include "modules/lmdb/lmdb_accounts.h"
#include "modules/lmdb/lmdb_queue.h"
#include "modules/lmdb/lmdb_watchdog.h"

namespace hf_lmdb
{

// A filesystem with less room than this is full for a commit.
const uint64_t full_below_bytes = 1 << 20;

void run_callbacks(std::vector<pending_write> *writes)
{
    std::vector<pending_write> ready;
    ready.swap(*writes);
    for (pending_write &w : ready)
        w.done(w.status);
}

bool accepted(int status)
{
    return status == HF_STORE_OK || status == HF_STORE_DUPLICATE;
}

// False if an LMDB call failed in txn (MDB_MAP_FULL, say) unnoticed by
// the write that made it: LMDB then refuses every call with MDB_BAD_TXN.
bool usable(lmdb_store *s, MDB_txn *txn)
{
    char probe = 0;
    MDB_val k{1, &probe}, v;
    return mdb_get(txn, s->db.meta, &k, &v) != MDB_BAD_TXN;
}

// A full store is logged once a minute, not per write; other failures
// every time.
void log_store_error(lmdb_store *s, bool full, const char *what)
{
    uint64_t now = s->host->now_ms(s->host->host);
    if (!full || now - s->full_logged_ms >= 60000) {
        s->host->log(s->host->host, HF_LOG_ERROR, "store_lmdb",
                     "%s; senders get store_full: raise store.map_size or free disk", what);
        s->full_logged_ms = now;
    }
}

// The accounts' usage again from what is committed, once the cached
// metadata went back to it.
static void recount_accounts(lmdb_store *s)
{
    reader r;
    if (begin_read(s, &r) != 0)
        return;
    count_accounts(s, r.txn);
    end_read(s, &r);
}

// What the disk holds is unknown: every write waiting, applied or
// committed unsynced is answered store_unavailable (its sender resends to
// the restarted daemon), nothing is committed again, and the host stops.
void fail_store(lmdb_store *s, const char *why)
{
    if (s->failed)
        return;
    s->failed = true;
    if (s->group_txn)
        mdb_txn_abort(s->group_txn);
    s->group_txn = nullptr;
    s->dirty_meta.clear();
    s->meta_cache.clear();
    hf_tail_clear(&s->tail);
    std::vector<pending_write> lost;
    lost.swap(s->group_writes);
    for (auto &gen : s->unsynced)
        for (pending_write &w : gen.second)
            lost.push_back(std::move(w));
    s->unsynced.clear();
    for (pending_write &w : s->queued)
        lost.push_back(std::move(w));
    s->queued.clear();
    for (pending_write &w : lost)
        w.status = HF_STORE_UNAVAILABLE;
    char text[256];
    snprintf(text, sizeof text,
             "%s: what the disk holds is unknown, so nothing more is acknowledged; check the disk (dmesg), and the "
             "daemon is restarted to read again what is on it",
             why);
    if (s->host->fatal)
        s->host->fatal(s->host->host, "store_lmdb", text);
    else
        s->host->log(s->host->host, HF_LOG_ERROR, "store_lmdb", "%s", text);
    run_callbacks(&lost);
}

void log_commit_failure(lmdb_store *s, int rc)
{
    char what[160];
    snprintf(what, sizeof what, "commit failed: %s", mdb_strerror(rc));
    log_store_error(s, status_of(rc) == HF_STORE_FULL, what);
}

// Whether an enqueue of record_len bytes keeps the tables within
// enqueue_page_limit: *pages holds what they fill, counted once per tick
// and grown by each enqueue's estimate (its record's pages and one for its
// index entries). A store refused here still commits its deletions: LMDB
// copies every page a transaction changes, so freeing space takes space.
bool room_for_enqueue(lmdb_store *s, uint64_t *pages, size_t record_len)
{
    uint64_t needed = record_len / s->page_size + 2;
    if (*pages + needed > s->enqueue_page_limit) {
        log_store_error(s, true, "the tables fill the map but its reserve (store.reserve), kept for deletions");
        return false;
    }
    *pages += needed;
    return true;
}

// Every write straight into the group transaction. A refused enqueue (a full queue,
// or a store past its reserve) has written nothing and a duplicate writes
// nothing; any other failure may have broken the group transaction: its status is
// returned, else HF_STORE_OK.
int apply_batch(lmdb_store *s, std::vector<pending_write> *batch)
{
    uint64_t pages = 0;
    if (int rc = table_pages(s, s->group_txn, &pages); rc != 0)
        return status_of(rc);
    for (pending_write &w : *batch) {
        if (w.enqueue && !room_for_enqueue(s, &pages, w.enqueue->record.size())) {
            w.status = HF_STORE_FULL;
            continue;
        }
        w.status = w.apply(s->group_txn);
        if (!accepted(w.status) && w.status != HF_STORE_QUEUE_FULL)
            return w.status;
    }
    return usable(s, s->group_txn) ? HF_STORE_OK : HF_STORE_ERROR;
}

// After a tick's transaction: the batch's messages go into their devices'
// tails (see tail_cache.h); with tell (their enqueues wait for a sync),
// the host hears each message's seq, and each device whose queue grew is
// told once, as one fetch takes all it has. True when a sender waits for
// one of them to be durable.
bool publish_applied(lmdb_store *s, std::vector<pending_write> *batch, bool tell)
{
    bool urgent = false;
    for (pending_write &w : *batch) {
        if (!w.enqueue || w.status != HF_STORE_OK)
            continue;
        if (w.enqueue->collapsed)
            hf_tail_remove(&s->tail, w.enqueue->dev, w.enqueue->collapsed);
        hf_tail_append(&s->tail, w.enqueue->dev, w.enqueue->seq, std::move(w.enqueue->record));
        if (tell && s->host->enqueue_applied)
            urgent |= s->host->enqueue_applied(s->host->host, w.enqueue->cb_arg, w.enqueue->seq) != 0;
    }
    if (!tell)
        return urgent;
    std::unordered_set<std::string_view> told;
    for (const pending_write &w : *batch) {
        if (!w.enqueue || w.status != HF_STORE_OK || !told.insert(w.enqueue->dev).second)
            continue;
        const char *account = w.enqueue->dev.c_str(); // account NUL device
        s->host->data_ready(s->host->host, account, account + strlen(account) + 1);
    }
    return urgent;
}

// After a full map lost the group transaction: the writes that free space
// (acknowledgements, expiry) and the device records are applied again in
// a transaction of their own, committed at once, with no enqueue beside
// them to fill the map again. Without this, a full store whose
// acknowledgements kept arriving in group transactions with new messages would never
// have room again. Should they together still need more pages than the
// map has left, each is applied in a transaction of its own. Committed
// without waiting for the disk, as any group transaction with sync = batch: a crash
// may undo them, and the messages they acknowledged are delivered again
// (at least once). Sets each status.
void apply_alone(lmdb_store *s, std::vector<pending_write> *writes)
{
    // One commit past the last recorded sync at most (lmdb_durable.h): a
    // sync under way ends first, and this commit is synced before it
    // returns.
    if (s->syncer)
        hf_syncer_wait(s->syncer);
    int rc = mdb_txn_begin(s->env, nullptr, 0, &s->group_txn);
    int failed = rc == 0 ? apply_batch(s, writes) : status_of(rc);
    if (failed == HF_STORE_OK && (rc = put_dirty_meta(s)) != 0)
        failed = status_of(rc);
    uint64_t txnid = s->group_txn ? mdb_txn_id(s->group_txn) : 0;
    if (failed == HF_STORE_OK && (rc = mdb_txn_commit(s->group_txn)) != 0)
        failed = status_of(rc);
    else if (failed != HF_STORE_OK && s->group_txn)
        mdb_txn_abort(s->group_txn);
    s->group_txn = nullptr;
    if (failed == HF_STORE_OK && s->syncer) {
        s->last_commit_txnid = txnid;
        if (sync_env(s) != 0) {
            fail_store(s, "a sync (fdatasync of data.mdb) failed");
            return;
        }
    }
    s->dirty_meta.clear();
    if (failed == HF_STORE_OK)
        return;
    s->meta_cache.clear();
    recount_accounts(s);
    if (failed == HF_STORE_FULL && writes->size() > 1) {
        for (pending_write &w : *writes) {
            std::vector<pending_write> one;
            one.push_back(std::move(w));
            apply_alone(s, &one);
            w = std::move(one.front());
        }
        return;
    }
    for (pending_write &w : *writes)
        w.status = failed;
}

// The group transaction is gone uncommitted: its commit failed, or a write broke it
// (a full map, most likely) and it was aborted. What it applied is lost
// though it was published: its writes and the batch's (if any) are
// answered with status, and the senders resend. Reads go to LMDB again
// and its seqs are not given again; after a full map, the writes that
// are not enqueues are applied again alone (apply_alone).
void lose_group(lmdb_store *s, std::vector<pending_write> *batch, int status)
{
    s->group_txn = nullptr;
    hf_tail_clear(&s->tail);
    for (const std::string &dev : s->dirty_meta) {
        uint64_t &floor = s->seq_floors[dev];
        floor = std::max(floor, s->meta_cache[dev].next_seq);
    }
    s->meta_cache.clear();
    s->dirty_meta.clear();
    recount_accounts(s);
    std::vector<pending_write> writes;
    writes.swap(s->group_writes);
    if (batch)
        for (pending_write &w : *batch)
            writes.push_back(std::move(w));
    std::vector<pending_write> lost, again;
    for (pending_write &w : writes) {
        w.status = status;
        (status == HF_STORE_FULL && !w.enqueue ? again : lost).push_back(std::move(w));
    }
    if (!again.empty())
        apply_alone(s, &again);
    run_callbacks(&lost);
    run_callbacks(&again);
}

// Whether the store's filesystem has less room than a commit might want.
bool filesystem_full(lmdb_store *s)
{
    mdb_filehandle_t fd;
    struct statvfs fs;
    if (mdb_env_get_fd(s->env, &fd) != 0 || fstatvfs(fd, &fs) != 0)
        return false;
    return uint64_t(fs.f_bavail) * fs.f_frsize < full_below_bytes;
}

// Commits the group transaction. With sync = batch its writes wait for the sync of
// the generation returned (0: nothing to sync); otherwise they are
// answered now.
uint64_t commit_group(void *arg)
{
    auto *s = static_cast<lmdb_store *>(arg);
    if (!s->group_txn)
        return 0;
    int rc = put_dirty_meta(s);
    uint64_t txnid = mdb_txn_id(s->group_txn);
    if (rc != 0)
        mdb_txn_abort(s->group_txn);
    else
        rc = mdb_txn_commit(s->group_txn);
    if (rc == 0)
        s->last_commit_txnid = txnid;
    // LMDB says EIO of a short write too: the file could not grow, the disk
    // being full (a page write that wrote part, then ENOSPC). Nothing was
    // lost to a sync there (with sync = always the commit also syncs, and
    // an EIO of that stays fatal), so it is a full store.
    if (rc == EIO && s->sync != sync_mode::always && filesystem_full(s))
        rc = ENOSPC;
    if (rc == EIO) {
        // Its pages (and with sync = always, its sync) failed to reach the disk.
        s->group_txn = nullptr;
        fail_store(s, "a commit failed to write (EIO)");
        return 0;
    }
    if (rc != 0) {
        log_commit_failure(s, rc);
        lose_group(s, nullptr, status_of(rc));
        return 0;
    }
    s->group_txn = nullptr;
    s->dirty_meta.clear();
    if (s->meta_cache.size() > meta_cache_max)
        s->meta_cache.clear();
    std::vector<pending_write> writes;
    writes.swap(s->group_writes);
    if (s->sync == sync_mode::batch) {
        s->unsynced.emplace_back(++s->commit_gen, std::move(writes));
        watchdog_sync_began(s);
        return s->commit_gen;
    }
    run_callbacks(&writes);
    return 0;
}

// The tick: every queued write applied straight into the group transaction, then
// published.
void apply_queued(evutil_socket_t, short, void *arg)
{
    auto *s = static_cast<lmdb_store *>(arg);
    if (s->queued.empty())
        return;
    if (s->failed) {
        std::vector<pending_write> refused;
        refused.swap(s->queued);
        for (pending_write &w : refused)
            w.status = HF_STORE_UNAVAILABLE;
        run_callbacks(&refused);
        return;
    }
    std::vector<pending_write> batch;
    batch.swap(s->queued);
    if (s->stalled)
        refuse_enqueues(&batch); // nothing applied: a resend is new once the disk is back
    if (int rc = s->group_txn ? 0 : mdb_txn_begin(s->env, nullptr, 0, &s->group_txn); rc != 0) {
        s->host->log(s->host->host, HF_LOG_ERROR, "store_lmdb", "cannot begin a write: %s", mdb_strerror(rc));
        for (pending_write &w : batch)
            w.status = status_of(rc);
        run_callbacks(&batch);
        return;
    }
    if (int failed = apply_batch(s, &batch); failed != HF_STORE_OK) {
        if (failed == HF_STORE_FULL)
            log_commit_failure(s, MDB_MAP_FULL);
        else
            s->host->log(s->host->host, HF_LOG_ERROR, "store_lmdb",
                         "a write failed; the uncommitted writes are dropped and their senders get an error");
        mdb_txn_abort(s->group_txn);
        lose_group(s, &batch, failed);
        return;
    }
    // With sync = batch the devices are told before the sync (even before
    // the commit): a connected device may be sent the message now (the
    // host answers the sender only after the sync, or once the device
    // acknowledges it). A crash before the sync loses no acknowledged
    // message: the sender, unanswered, resends it.
    bool urgent = publish_applied(s, &batch, s->sync == sync_mode::batch);
    for (pending_write &w : batch)
        s->group_writes.push_back(std::move(w));
    if (s->sync == sync_mode::batch)
        hf_syncer_request(s->syncer, urgent); // commits the group transaction when a sync can start
    else
        commit_group(s);
}

// On the sync thread: commits go to the kernel at once (MDB_NOSYNC); this
// waits for the disk. LMDB's sync is an fdatasync of the data file, safe
// beside a write transaction on the reactor; then the commit it covered is
// recorded durable (lmdb_durable.h), before any of its writes is answered.
// No commit happens meanwhile, so last_commit_txnid holds still.
int sync_env(void *arg)
{
    auto *s = static_cast<lmdb_store *>(arg);
    int rc = mdb_env_sync(s->env, 1);
    return rc != 0 ? rc : durable_write(&s->durable, s->last_commit_txnid);
}

// Answers the writes of every group transaction up to synced_gen. A failed sync is
// not tried again: Linux reports a write-back error once and may have
// dropped the pages, so a second fsync "succeeds" with them lost (what
// PostgreSQL calls fsyncgate). The store fails instead (fail_store).
void answer_synced(void *arg, uint64_t synced_gen, uint64_t failed_gen)
{
    auto *s = static_cast<lmdb_store *>(arg);
    watchdog_sync_ended(s);
    if (failed_gen != 0) {
        fail_store(s, "a sync (fdatasync of data.mdb) failed");
        return;
    }
    std::vector<pending_write> ready;
    while (!s->unsynced.empty() && s->unsynced.front().first <= synced_gen) {
        for (pending_write &w : s->unsynced.front().second)
            ready.push_back(std::move(w));
        s->unsynced.pop_front();
    }
    run_callbacks(&ready);
}

// At close, on the reactor: the last sync, once the thread has stopped.
void sync_all(lmdb_store *s)
{
    if (s->unsynced.empty() || s->failed)
        return;
    int rc = sync_env(s);
    answer_synced(s, s->commit_gen, rc == 0 ? 0 : s->commit_gen);
}

void queue_write(lmdb_store *s, std::function<int(MDB_txn *)> apply, std::function<void(int)> done,
                 std::unique_ptr<enqueue_job> enqueue)
{
    s->queued.push_back(pending_write{std::move(apply), std::move(done), HF_STORE_OK, std::move(enqueue)});
    if (s->queued.size() == 1)
        event_active(s->apply_event, EV_TIMEOUT, 0);
}

// 0 or an LMDB error; end_read only after 0.
int begin_read(lmdb_store *s, reader *r)
{
    if (s->group_txn) {
        r->txn = s->group_txn;
        r->in_group = true;
        return 0;
    }
    r->kept = !s->read_txn_busy;
    int rc = r->kept && s->read_txn ? mdb_txn_renew(s->read_txn)
                                    : mdb_txn_begin(s->env, nullptr, MDB_RDONLY, r->kept ? &s->read_txn : &r->txn);
    if (r->kept) {
        r->txn = s->read_txn;
        s->read_txn_busy = rc == 0;
    }
    return rc;
}

void end_read(lmdb_store *s, reader *r)
{
    if (r->in_group)
        return;
    if (r->kept) {
        mdb_txn_reset(r->txn);
        s->read_txn_busy = false;
    } else {
        mdb_txn_abort(r->txn);
    }
}

} // namespace hf_lmdb
