// store_lmdb: durable per-device queues in one LMDB environment, for a
// single server. Writes of one reactor tick are applied together, straight
// into the open "window" transaction, and published at once (connected
// devices are sent new messages from the window). With
// sync = "batch" the window is committed only when a sync can start (at
// most once per sync_interval, see syncer.h), so a page that many ticks
// change is written once, and a message acknowledged within the window
// costs its pages no disk write; an enqueue is acknowledged only once a
// sync covers it. Other sync settings commit the window every tick.
// See docs/storage.md for the layout and the durability of each setting.
#include <event2/event.h>
#include <endian.h>
#include <lmdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "modules/abi_v1.h"
#include "modules/dedup.h"
#include "modules/local_presence.h"
#include "modules/syncer.h"
#include "modules/record.h"
#include "modules/tail_cache.h"

namespace
{

enum setting_index {
    path_setting,
    map_size_setting,
    sync_setting,
    sync_interval_setting,
    tail_cache_setting,
    setting_count
};

const hf_setting_spec settings[setting_count] = {
    {"path", HF_SETTING_STRING, "/var/lib/handoff/lmdb", 0, 0, "folder of the LMDB environment (created if missing)"},
    {"map_size", HF_SETTING_SIZE, "1g", 1 << 20, int64_t(1) << 44,
     "largest the store may grow; a full store rejects senders with store_full"},
    {"sync", HF_SETTING_STRING, "batch", 0, 0,
     "always: fsync every commit; batch: fsync on a thread, at most every sync_interval, acknowledge after it; "
     "off: never"},
    {"sync_interval", HF_SETTING_DURATION, "10ms", 0, 10000,
     "with sync = batch, the least time between the starts of two syncs (done on a thread of their own); "
     "skipped for a message whose sender waits to hear stored"},
    {"tail_cache", HF_SETTING_SIZE, "16m", 0, int64_t(1) << 40,
     "memory for messages applied but not yet fetched by their connected devices, so that live delivery "
     "reads nothing back from LMDB (0: off)"},
};

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
//   devices  account 0x00 device               -> (empty)
// where dev = account 0x00 device.
struct dbs {
    MDB_dbi msgs, meta, collapse, dedup, ttl, devices;
};

struct queue_meta {
    uint64_t next_seq = 1, acked_upto = 0, count = 0, bytes = 0;
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
    MDB_txn *window = nullptr;
    std::vector<pending_write> window_writes;
    // sync = batch: committed windows by generation, waiting for the sync
    // thread to cover them.
    std::deque<std::pair<uint64_t, std::vector<pending_write>>> unsynced;
    uint64_t commit_gen = 0;
    hf_syncer *syncer = nullptr;
    event *apply_event = nullptr;
    hf_local_presence presence; // one server: in memory
    hf_tail_cache tail;
    uint64_t full_logged_ms = 0; // a full store is logged once a minute, not per commit
    // While no window is open, reads use one read transaction kept reset
    // between them: renewing it costs far less than a new one.
    MDB_txn *read_txn = nullptr;
    bool read_txn_busy = false; // a read inside a read's callback opens its own
    // Queue metadata as applied (in the window or committed), written into
    // LMDB once per device per window, just before it commits, not once
    // per message: dirty_meta names the devices it changed.
    std::unordered_map<std::string, queue_meta> meta_cache;
    std::unordered_set<std::string> dirty_meta;
    // Should a window be lost, its messages are gone but may have been
    // sent, and their seqs acknowledged later: seq_floors keeps those seqs
    // from being given again (an acknowledgement would delete a message
    // never sent).
    std::unordered_map<std::string, uint64_t> seq_floors;
    // The greatest keys put into msgs and ttl (see put_maybe_last).
    std::string greatest_msg_key, greatest_ttl_key;
    // Where the sweep of silent senders' dedup records goes on from: it
    // reads a slice of the table per sweep, not all of it.
    std::string dedup_sweep_from;
};

std::string dev_key(const char *account, const char *device)
{
    std::string k = account;
    k.push_back('\0');
    k += device;
    return k;
}

std::string msg_key(const std::string &dev, uint64_t seq)
{
    std::string k;
    k.reserve(dev.size() + 9);
    k += dev;
    k.push_back('\0');
    hf_put_be64(&k, seq);
    return k;
}

MDB_val val(const std::string &s)
{
    return MDB_val{s.size(), const_cast<char *>(s.data())};
}

// Record: msg_id, stored_at, expires_at (be64 each), from and collapse
// (u16 length + bytes each), then the payload.

// Devices whose metadata meta_cache keeps at most; past that it starts
// again empty after a commit (about 100 bytes each).
const size_t meta_cache_max = 100000;

queue_meta read_meta(lmdb_store *s, MDB_txn *txn, const std::string &dev)
{
    if (auto it = s->meta_cache.find(dev); it != s->meta_cache.end())
        return it->second;
    queue_meta m;
    MDB_val k = val(dev), v;
    if (mdb_get(txn, s->db.meta, &k, &v) == 0 && v.mv_size == 32) {
        auto *p = static_cast<const uint8_t *>(v.mv_data);
        m.next_seq = hf_get_be64(p);
        m.acked_upto = hf_get_be64(p + 8);
        m.count = hf_get_be64(p + 16);
        m.bytes = hf_get_be64(p + 24);
    }
    if (!s->seq_floors.empty()) {
        auto floor = s->seq_floors.find(dev);
        if (floor != s->seq_floors.end() && floor->second > m.next_seq)
            m.next_seq = floor->second;
    }
    return m;
}

int put_meta(lmdb_store *s, MDB_txn *txn, const std::string &dev, const queue_meta &m)
{
    std::string v;
    hf_put_be64(&v, m.next_seq);
    hf_put_be64(&v, m.acked_upto);
    hf_put_be64(&v, m.count);
    hf_put_be64(&v, m.bytes);
    MDB_val k = val(dev), vv = val(v);
    return mdb_put(txn, s->db.meta, &k, &vv, 0);
}

void write_meta(lmdb_store *s, const std::string &dev, const queue_meta &m)
{
    s->meta_cache[dev] = m;
    s->dirty_meta.insert(dev);
}

// The window's metadata into it, once per device it changed.
int put_dirty_meta(lmdb_store *s)
{
    for (const std::string &dev : s->dirty_meta)
        if (int rc = put_meta(s, s->window, dev, s->meta_cache[dev]); rc != 0)
            return rc;
    return 0;
}

int status_of(int rc)
{
    return rc == 0 ? HF_STORE_OK : rc == MDB_MAP_FULL ? HF_STORE_FULL : HF_STORE_ERROR;
}

// What deleting a stored message undoes besides its record, read from the
// record (copied: deleting index entries may move the page it is on).
struct stored_ref {
    uint64_t seq;
    bool decoded; // false: a damaged record, deleted without index entries
    hf_record record;
};

stored_ref ref_of(uint64_t seq, const MDB_val &v)
{
    stored_ref ref{seq, false, {}};
    ref.decoded = hf_record_decode(v.mv_data, v.mv_size, &ref.record);
    return ref;
}

// A delete's result: an entry already gone is no failure.
int deleted(int rc)
{
    return rc == MDB_NOTFOUND ? 0 : rc;
}

// Deletes a stored message's index entries and counts it out of m; its
// record is the caller's to delete. A delete can fail for want of a page
// (a full map): that failure is returned, so that the caller reports the
// store full rather than a transaction LMDB has given up on.
int unindex_stored(lmdb_store *s, MDB_txn *txn, const std::string &dev, const std::string &key, const stored_ref &ref,
                   queue_meta *m)
{
    const hf_record &r = ref.record;
    if (m->count)
        m->count--;
    if (!ref.decoded)
        return 0;
    m->bytes -= r.payload_len <= m->bytes ? r.payload_len : m->bytes;
    int rc = 0;
    if (!r.collapse.empty()) {
        std::string ck = dev + '\0' + r.collapse;
        MDB_val ckv = val(ck), cv;
        if (mdb_get(txn, s->db.collapse, &ckv, &cv) == 0 && cv.mv_size == 8 && hf_get_be64(cv.mv_data) == ref.seq)
            rc = deleted(mdb_del(txn, s->db.collapse, &ckv, nullptr));
    }
    std::string tk;
    hf_put_be64(&tk, r.expires_at);
    tk += key;
    MDB_val tkv = val(tk);
    return rc != 0 ? rc : deleted(mdb_del(txn, s->db.ttl, &tkv, nullptr));
}

// Deletes one stored message and its index entries; updates m.
int delete_stored(lmdb_store *s, MDB_txn *txn, const std::string &dev, const stored_ref &ref, queue_meta *m)
{
    std::string key = msg_key(dev, ref.seq);
    if (int rc = unindex_stored(s, txn, dev, key, ref, m); rc != 0)
        return rc;
    MDB_val k = val(key);
    return mdb_del(txn, s->db.msgs, &k, nullptr);
}

// The same, found by its seq; 0 if it is not there.
int delete_message(lmdb_store *s, MDB_txn *txn, const std::string &dev, uint64_t seq, queue_meta *m)
{
    std::string key = msg_key(dev, seq);
    MDB_val k = val(key), v;
    if (mdb_get(txn, s->db.msgs, &k, &v) != 0)
        return 0;
    return delete_stored(s, txn, dev, ref_of(seq, v), m);
}

// A put whose key may sort last: a device's next message, or a
// time-ordered index entry. Appending walks the tree's right edge instead
// of searching it, but a refused append (MDB_KEYEXIST, the transaction
// unharmed) has walked it for nothing, so it is tried only for a key above
// the table's greatest (*greatest: read once, then kept by these puts, the
// only ones into the table; deletes and lost windows leave it too high,
// which only costs appends).
int put_maybe_last(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *value, std::string *greatest)
{
    MDB_cursor *cur = nullptr;
    if (greatest->empty() && mdb_cursor_open(txn, dbi, &cur) == 0) {
        MDB_val k, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0)
            greatest->assign(static_cast<const char *>(k.mv_data), k.mv_size);
        mdb_cursor_close(cur);
    }
    MDB_val top = val(*greatest);
    bool above = greatest->empty() || mdb_cmp(txn, dbi, key, &top) > 0;
    int rc = above ? mdb_put(txn, dbi, key, value, MDB_APPEND) : MDB_KEYEXIST;
    if (rc == MDB_KEYEXIST)
        rc = mdb_put(txn, dbi, key, value, 0);
    if (rc == 0 && above)
        greatest->assign(static_cast<const char *>(key->mv_data), key->mv_size);
    return rc;
}

// A resend: its sender's dedup record has its id. *acked: the target has
// acknowledged everything the sender sent it. The record is kept in the
// job for remember_id.
bool is_resend(lmdb_store *s, MDB_txn *txn, enqueue_job *job, const queue_meta &m, int *acked)
{
    MDB_val k = val(job->sender_key), v;
    if (mdb_get(txn, s->db.dedup, &k, &v) != 0) {
        job->sender_ids.clear();
        return false;
    }
    job->sender_ids.assign(static_cast<const char *>(v.mv_data), v.mv_size);
    auto *record = static_cast<const uint8_t *>(v.mv_data);
    if (!hf_dedup_seen(record, v.mv_size, job->msg_id))
        return false;
    *acked = hf_dedup_last_seq(record, v.mv_size) <= m.acked_upto;
    return true;
}

// Notes the id in its sender's dedup record, as is_resend read it.
int remember_id(lmdb_store *s, MDB_txn *txn, enqueue_job *job, uint64_t seq)
{
    hf_dedup_accept(&job->sender_ids, s->params.dedup_ids, job->msg_id, seq, job->now_ms);
    MDB_val k = val(job->sender_key), v = val(job->sender_ids);
    return mdb_put(txn, s->db.dedup, &k, &v, 0);
}

// The seq of the older message of the job's collapse key (0: none) and,
// in *freed_bytes, what dropping it frees.
uint64_t collapsed_by(lmdb_store *s, MDB_txn *txn, const enqueue_job *job, uint64_t *freed_bytes)
{
    *freed_bytes = 0;
    if (job->collapse.empty())
        return 0;
    std::string ck = job->dev + '\0' + job->collapse;
    MDB_val ckv = val(ck), cv, ov;
    if (mdb_get(txn, s->db.collapse, &ckv, &cv) != 0 || cv.mv_size != 8)
        return 0;
    uint64_t older = hf_get_be64(cv.mv_data);
    std::string older_key = msg_key(job->dev, older);
    MDB_val okv = val(older_key);
    if (mdb_get(txn, s->db.msgs, &okv, &ov) != 0)
        return 0;
    hf_record r;
    *freed_bytes = hf_record_decode(ov.mv_data, ov.mv_size, &r) ? r.payload_len : 0;
    return older;
}

// The message's record and its index entries under seq.
int put_message(lmdb_store *s, MDB_txn *txn, const enqueue_job *job, uint64_t seq)
{
    std::string key = msg_key(job->dev, seq);
    MDB_val k = val(key), v = val(job->record);
    int rc = put_maybe_last(txn, s->db.msgs, &k, &v, &s->greatest_msg_key);
    if (rc != 0)
        return rc;
    std::string tk;
    tk.reserve(8 + key.size());
    hf_put_be64(&tk, job->expires_at_ms);
    tk += key;
    MDB_val tkv = val(tk), empty{0, nullptr};
    if ((rc = put_maybe_last(txn, s->db.ttl, &tkv, &empty, &s->greatest_ttl_key)) != 0 || job->collapse.empty())
        return rc;
    std::string ck = job->dev + '\0' + job->collapse, seq_value;
    hf_put_be64(&seq_value, seq);
    MDB_val ckv = val(ck), cv = val(seq_value);
    return mdb_put(txn, s->db.collapse, &ckv, &cv, 0);
}

// De-duplication, then the collapse key and the quota, then the put. A
// resend or a full queue writes nothing.
int apply_enqueue(lmdb_store *s, MDB_txn *txn, enqueue_job *job)
{
    queue_meta m = read_meta(s, txn, job->dev);
    if (is_resend(s, txn, job, m, &job->acked))
        return HF_STORE_DUPLICATE;
    uint64_t freed_bytes = 0;
    uint64_t older = collapsed_by(s, txn, job, &freed_bytes);
    uint64_t freed_count = older ? 1 : 0;
    if (m.count - std::min(m.count, freed_count) >= s->params.queue_max_messages ||
        m.bytes - std::min(m.bytes, freed_bytes) + job->payload_len > s->params.queue_max_bytes)
        return HF_STORE_QUEUE_FULL;
    int rc = older ? delete_message(s, txn, job->dev, older, &m) : 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return status_of(rc);
    job->collapsed = older;
    uint64_t seq = m.next_seq++;
    if ((rc = put_message(s, txn, job, seq)) != 0 || (rc = remember_id(s, txn, job, seq)) != 0)
        return status_of(rc);
    m.count++;
    m.bytes += job->payload_len;
    write_meta(s, job->dev, m);
    job->seq = seq;
    return HF_STORE_OK;
}

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

// Every write straight into the window. A refused enqueue (a full queue)
// has written nothing and a duplicate writes nothing; any other failure
// may have broken the window: its status is returned, else HF_STORE_OK.
int apply_batch(lmdb_store *s, std::vector<pending_write> *batch)
{
    for (pending_write &w : *batch) {
        w.status = w.apply(s->window);
        if (!accepted(w.status) && w.status != HF_STORE_QUEUE_FULL)
            return w.status;
    }
    return usable(s, s->window) ? HF_STORE_OK : HF_STORE_ERROR;
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

void log_commit_failure(lmdb_store *s, int rc)
{
    uint64_t now = s->host->now_ms(s->host->host);
    if (rc != MDB_MAP_FULL || now - s->full_logged_ms >= 60000) {
        s->host->log(s->host->host, HF_LOG_ERROR, "store_lmdb",
                     "commit failed: %s; senders get store_full: raise store.map_size or free disk", mdb_strerror(rc));
        s->full_logged_ms = now;
    }
}

// After a full map lost the window: the writes that free space
// (acknowledgements, expiry) and the device records are applied again in
// a transaction of their own, committed at once, with no enqueue beside
// them to fill the map again. Without this, a full store whose
// acknowledgements kept arriving in windows with new messages would never
// have room again. Committed without waiting for the disk, as any window
// with sync = batch: a crash may undo them, and the messages they
// acknowledged are delivered again (at least once). Sets each status.
void apply_alone(lmdb_store *s, std::vector<pending_write> *writes)
{
    int rc = mdb_txn_begin(s->env, nullptr, 0, &s->window);
    int failed = rc == 0 ? apply_batch(s, writes) : status_of(rc);
    if (failed == HF_STORE_OK && (rc = put_dirty_meta(s)) != 0)
        failed = status_of(rc);
    if (failed == HF_STORE_OK && (rc = mdb_txn_commit(s->window)) != 0)
        failed = status_of(rc);
    else if (failed != HF_STORE_OK && s->window)
        mdb_txn_abort(s->window);
    s->window = nullptr;
    s->dirty_meta.clear();
    if (failed == HF_STORE_OK)
        return;
    s->meta_cache.clear();
    for (pending_write &w : *writes)
        w.status = failed;
}

// The window is gone uncommitted: its commit failed, or a write broke it
// (a full map, most likely) and it was aborted. What it applied is lost
// though it was published: its writes and the batch's (if any) are
// answered with status, and the senders resend. Reads go to LMDB again
// and its seqs are not given again; after a full map, the writes that
// are not enqueues are applied again alone (apply_alone).
void lose_window(lmdb_store *s, std::vector<pending_write> *batch, int status)
{
    s->window = nullptr;
    hf_tail_clear(&s->tail);
    for (const std::string &dev : s->dirty_meta) {
        uint64_t &floor = s->seq_floors[dev];
        floor = std::max(floor, s->meta_cache[dev].next_seq);
    }
    s->meta_cache.clear();
    s->dirty_meta.clear();
    std::vector<pending_write> writes;
    writes.swap(s->window_writes);
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

// Commits the window. With sync = batch its writes wait for the sync of
// the generation returned (0: nothing to sync); otherwise they are
// answered now.
uint64_t commit_window(void *arg)
{
    auto *s = static_cast<lmdb_store *>(arg);
    if (!s->window)
        return 0;
    int rc = put_dirty_meta(s);
    if (rc != 0)
        mdb_txn_abort(s->window);
    else
        rc = mdb_txn_commit(s->window);
    if (rc != 0) {
        log_commit_failure(s, rc);
        lose_window(s, nullptr, status_of(rc));
        return 0;
    }
    s->window = nullptr;
    s->dirty_meta.clear();
    if (s->meta_cache.size() > meta_cache_max)
        s->meta_cache.clear();
    std::vector<pending_write> writes;
    writes.swap(s->window_writes);
    if (s->sync == sync_mode::batch) {
        s->unsynced.emplace_back(++s->commit_gen, std::move(writes));
        return s->commit_gen;
    }
    run_callbacks(&writes);
    return 0;
}

// The tick: every queued write applied straight into the window, then
// published.
void apply_queued(evutil_socket_t, short, void *arg)
{
    auto *s = static_cast<lmdb_store *>(arg);
    if (s->queued.empty())
        return;
    std::vector<pending_write> batch;
    batch.swap(s->queued);
    if (int rc = s->window ? 0 : mdb_txn_begin(s->env, nullptr, 0, &s->window); rc != 0) {
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
        mdb_txn_abort(s->window);
        lose_window(s, &batch, failed);
        return;
    }
    // With sync = batch the devices are told before the sync (even before
    // the commit): a connected device may be sent the message now (the
    // host answers the sender only after the sync, or once the device
    // acknowledges it). A crash before the sync loses no acknowledged
    // message: the sender, unanswered, resends it.
    bool urgent = publish_applied(s, &batch, s->sync == sync_mode::batch);
    for (pending_write &w : batch)
        s->window_writes.push_back(std::move(w));
    if (s->sync == sync_mode::batch)
        hf_syncer_request(s->syncer, urgent); // commits the window when a sync can start
    else
        commit_window(s);
}

// On the sync thread: commits go to the kernel at once (MDB_NOSYNC); this
// waits for the disk. LMDB's sync is an fdatasync of the data file, safe
// beside a write transaction on the reactor.
int sync_env(void *arg)
{
    return mdb_env_sync(static_cast<lmdb_store *>(arg)->env, 1);
}

// Answers the writes of every window up to synced_gen; those a failed sync
// covered may not be on disk, so they are answered with an error.
void answer_synced(void *arg, uint64_t synced_gen, uint64_t failed_gen)
{
    auto *s = static_cast<lmdb_store *>(arg);
    std::vector<pending_write> ready;
    bool lost = false;
    while (!s->unsynced.empty() && s->unsynced.front().first <= synced_gen) {
        bool failed = s->unsynced.front().first <= failed_gen;
        for (pending_write &w : s->unsynced.front().second) {
            if (failed && w.status == HF_STORE_OK) {
                w.status = HF_STORE_ERROR;
                lost = true;
            }
            ready.push_back(std::move(w));
        }
        s->unsynced.pop_front();
    }
    if (lost)
        s->host->log(s->host->host, HF_LOG_ERROR, "store_lmdb",
                     "sync failed; senders of the messages it covered get an error: check the disk");
    run_callbacks(&ready);
}

// At close, on the reactor: the last sync, once the thread has stopped.
void sync_all(lmdb_store *s)
{
    if (s->unsynced.empty())
        return;
    int rc = mdb_env_sync(s->env, 1);
    if (rc != 0)
        s->host->log(s->host->host, HF_LOG_ERROR, "store_lmdb", "sync failed: %s; check the disk", mdb_strerror(rc));
    answer_synced(s, s->commit_gen, rc == 0 ? 0 : s->commit_gen);
}

void queue_write(lmdb_store *s, std::function<int(MDB_txn *)> apply, std::function<void(int)> done,
                 std::unique_ptr<enqueue_job> enqueue = nullptr)
{
    s->queued.push_back(pending_write{std::move(apply), std::move(done), HF_STORE_OK, std::move(enqueue)});
    if (s->queued.size() == 1)
        event_active(s->apply_event, EV_TIMEOUT, 0);
}

// A transaction to read in: the window when one is open (it holds what
// was applied and not yet committed), else a read transaction.
struct reader {
    MDB_txn *txn = nullptr;
    bool in_window = false; // nothing to end
    bool kept = false;      // s->read_txn, renewed: reset when done
};

// 0 or an LMDB error; end_read only after 0.
int begin_read(lmdb_store *s, reader *r)
{
    if (s->window) {
        r->txn = s->window;
        r->in_window = true;
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
    if (r->in_window)
        return;
    if (r->kept) {
        mdb_txn_reset(r->txn);
        s->read_txn_busy = false;
    } else {
        mdb_txn_abort(r->txn);
    }
}

// Stores written before dedup records kept a pair of entries per message
// ("sent", "sent_age"): they go, and with them the memory of ids sent
// before the upgrade.
int drop_old_tables(MDB_txn *txn)
{
    for (const char *name : {"sent", "sent_age"}) {
        MDB_dbi old;
        int rc = mdb_dbi_open(txn, name, 0, &old);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0 || (rc = mdb_drop(txn, old, 1)) != 0)
            return rc;
    }
    return 0;
}

int store_open(const hf_host_api *host, const hf_store_params *params, const hf_setting_value *values, void **store,
               char *err, size_t err_len)
{
    auto *s = new lmdb_store;
    s->host = host;
    s->params = *params;
    std::string sync = values[sync_setting].string;
    if (sync == "always")
        s->sync = sync_mode::always;
    else if (sync == "batch")
        s->sync = sync_mode::batch;
    else if (sync == "off")
        s->sync = sync_mode::off;
    else {
        snprintf(err, err_len, "store.sync must be \"always\", \"batch\" or \"off\", not \"%s\"", sync.c_str());
        delete s;
        return -1;
    }
    s->sync_interval_ms = uint64_t(values[sync_interval_setting].number);
    s->tail.budget = size_t(values[tail_cache_setting].number);
    s->tail.per_device = tail_per_device;
    const char *path = values[path_setting].string;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create store.path %s: %s", path, strerror(errno));
        delete s;
        return -1;
    }
    // MDB_NOMEMINIT: LMDB would otherwise zero every new page before use,
    // 7 pages a message here (9% of the daemon's instructions in a
    // profile). The file is the daemon's own (mode 0600), so stale heap
    // bytes in unused page tails stay with their owner.
    unsigned flags = MDB_NOTLS | MDB_NOMEMINIT | (s->sync == sync_mode::always ? 0 : MDB_NOSYNC);
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 8);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, size_t(values[map_size_setting].number));
    if (rc == 0)
        rc = mdb_env_open(s->env, path, flags, 0600);
    MDB_txn *txn = nullptr;
    if (rc == 0)
        rc = mdb_txn_begin(s->env, nullptr, 0, &txn);
    const char *names[] = {"msgs", "meta", "collapse", "dedup", "ttl", "devices"};
    MDB_dbi *handles[] = {&s->db.msgs, &s->db.meta, &s->db.collapse, &s->db.dedup, &s->db.ttl, &s->db.devices};
    for (int i = 0; rc == 0 && i < 6; i++)
        rc = mdb_dbi_open(txn, names[i], MDB_CREATE, handles[i]);
    if (rc == 0)
        rc = drop_old_tables(txn);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (rc != 0) {
        snprintf(err, err_len, "cannot open the LMDB store in %s: %s", path, mdb_strerror(rc));
        if (s->env)
            mdb_env_close(s->env);
        delete s;
        return -1;
    }
    event_base *base = host->event_base(host->host);
    s->apply_event = event_new(base, -1, 0, apply_queued, s);
    std::string syncer_err;
    if (s->sync == sync_mode::batch && !(s->syncer = hf_syncer_start(base, {commit_window, sync_env, answer_synced, s},
                                                                     s->sync_interval_ms, &syncer_err))) {
        snprintf(err, err_len, "%s", syncer_err.c_str());
        event_free(s->apply_event);
        mdb_env_close(s->env);
        delete s;
        return -1;
    }
    *store = s;
    return 0;
}

void store_close(void *store)
{
    auto *s = static_cast<lmdb_store *>(store);
    apply_queued(-1, 0, s);
    if (s->syncer)
        hf_syncer_stop(s->syncer);
    commit_window(s);
    sync_all(s);
    if (s->read_txn)
        mdb_txn_abort(s->read_txn);
    event_free(s->apply_event);
    mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    delete s;
}

void store_enqueue(void *store, const hf_store_enqueue_req *req, hf_store_enqueue_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    auto job = std::make_unique<enqueue_job>();
    job->dev = dev_key(req->account, req->device);
    job->sender_key = job->dev + '\0' + req->from;
    job->msg_id = req->msg_id;
    job->record = hf_record_encode(req);
    job->collapse = req->collapse_key ? req->collapse_key : "";
    job->payload_len = req->payload_len;
    job->expires_at_ms = req->expires_at_ms;
    job->now_ms = s->host->now_ms(s->host->host);
    job->cb = cb;
    job->cb_arg = arg;
    enqueue_job *j = job.get();
    queue_write(
        s, [s, j](MDB_txn *txn) { return apply_enqueue(s, txn, j); },
        [j](int status) { j->cb(j->cb_arg, status, j->seq, j->acked); }, std::move(job));
}

// Reads from LMDB (the window, or what is committed when none is open). A
// read that reaches the end of the device's queue starts its tail.
void fetch_from_lmdb(lmdb_store *s, const std::string &dev, uint64_t after_seq, hf_fetch_batch *b, hf_store_fetch_cb cb,
                     void *arg)
{
    std::string start = msg_key(dev, after_seq + 1);
    reader r;
    int rc = begin_read(s, &r);
    MDB_cursor *cur = nullptr;
    if (rc != 0 || mdb_cursor_open(r.txn, s->db.msgs, &cur) != 0) {
        if (rc == 0)
            end_read(s, &r);
        cb(arg, HF_STORE_ERROR, nullptr, 0);
        return;
    }
    bool at_end = false;
    MDB_val k = val(start), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (rc != 0 || k.mv_size != dev.size() + 9 || memcmp(k.mv_data, dev.data(), dev.size()) != 0 ||
            static_cast<char *>(k.mv_data)[dev.size()] != '\0') {
            at_end = true; // past this device's messages
            break;
        }
        if (!b->take(hf_get_be64(static_cast<char *>(k.mv_data) + dev.size() + 1), v.mv_data, v.mv_size))
            break;
    }
    if (at_end)
        hf_tail_covered(&s->tail, dev, (b->out.empty() ? after_seq : b->out.back().seq) + 1);
    cb(arg, HF_STORE_OK, b->out.data(), b->out.size());
    mdb_cursor_close(cur);
    end_read(s, &r);
}

void store_fetch(void *store, const char *account, const char *device, uint64_t after_seq, uint32_t max_count,
                 uint64_t max_bytes, uint64_t now_ms, hf_store_fetch_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string dev = dev_key(account, device);
    hf_fetch_batch b{max_count, max_bytes, now_ms, 0, {}, {}};
    const hf_tail *tail = hf_tail_after(&s->tail, dev, after_seq);
    if (!tail) {
        fetch_from_lmdb(s, dev, after_seq, &b, cb, arg);
        return;
    }
    for (const hf_tail_entry &e : tail->entries)
        if (!b.take(e.seq, e.record.data(), e.record.size()))
            break;
    cb(arg, HF_STORE_OK, b.out.data(), b.out.size());
}

void store_ack(void *store, const char *account, const char *device, uint64_t upto_seq, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string dev = dev_key(account, device);
    queue_write(
        s,
        [s, dev, upto_seq](MDB_txn *txn) -> int {
            queue_meta m = read_meta(s, txn, dev);
            MDB_cursor *cur = nullptr;
            if (mdb_cursor_open(txn, s->db.msgs, &cur) != 0)
                return HF_STORE_ERROR;
            // Each record is deleted where the scan stands, without a
            // second search of the tree for it.
            std::string start = msg_key(dev, 0);
            MDB_val k = val(start), v;
            int rc;
            for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                if (k.mv_size != dev.size() + 9 || memcmp(k.mv_data, dev.data(), dev.size()) != 0)
                    break;
                uint64_t seq = hf_get_be64(static_cast<char *>(k.mv_data) + dev.size() + 1);
                if (seq > upto_seq)
                    break;
                std::string key(static_cast<char *>(k.mv_data), k.mv_size);
                if ((rc = unindex_stored(s, txn, dev, key, ref_of(seq, v), &m)) != 0 ||
                    (rc = mdb_cursor_del(cur, 0)) != 0)
                    break;
            }
            mdb_cursor_close(cur);
            if (rc != 0 && rc != MDB_NOTFOUND)
                return status_of(rc);
            if (upto_seq > m.acked_upto)
                m.acked_upto = upto_seq;
            write_meta(s, dev, m);
            return HF_STORE_OK;
        },
        [cb, arg](int status) { cb(arg, status); });
}

void store_add_device(void *store, const char *account, const char *device, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string key = dev_key(account, device);
    queue_write(
        s,
        [s, key](MDB_txn *txn) -> int {
            MDB_val k = val(key), empty{0, nullptr};
            int rc = mdb_put(txn, s->db.devices, &k, &empty, 0);
            return status_of(rc);
        },
        [cb, arg](int status) { cb(arg, status); });
}

void store_list_devices(void *store, const char *account, hf_store_devices_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string prefix = std::string(account) + '\0';
    std::vector<std::string> names;
    reader r;
    bool reading = begin_read(s, &r) == 0;
    MDB_cursor *cur = nullptr;
    if (reading && mdb_cursor_open(r.txn, s->db.devices, &cur) == 0) {
        MDB_val k = val(prefix), v;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size < prefix.size() || memcmp(k.mv_data, prefix.data(), prefix.size()) != 0)
                break;
            names.emplace_back(static_cast<char *>(k.mv_data) + prefix.size(), k.mv_size - prefix.size());
        }
        mdb_cursor_close(cur);
    }
    if (reading)
        end_read(s, &r);
    std::vector<const char *> ptrs;
    for (const std::string &n : names)
        ptrs.push_back(n.c_str());
    cb(arg, HF_STORE_OK, ptrs.data(), ptrs.size());
}

// Dedup records one sweep reads at most: a slice of the table, the next
// sweep going on where this one stopped, so a sweep stays short however
// many pairs there are.
const size_t dedup_sweep_slice = 10000;

// Deletes the dedup records of senders silent for the dedup window, in
// the next slice of the table.
int forget_silent_senders(lmdb_store *s, MDB_txn *txn, uint64_t now_ms)
{
    MDB_cursor *cur = nullptr;
    if (mdb_cursor_open(txn, s->db.dedup, &cur) != 0)
        return HF_STORE_ERROR;
    MDB_val k = val(s->dedup_sweep_from), v;
    int rc = mdb_cursor_get(cur, &k, &v, s->dedup_sweep_from.empty() ? MDB_FIRST : MDB_SET_RANGE);
    for (size_t read = 0; rc == 0 && read < dedup_sweep_slice; read++) {
        auto *record = static_cast<const uint8_t *>(v.mv_data);
        if (hf_dedup_last_ms(record, v.mv_size) + s->params.dedup_window_ms <= now_ms &&
            (rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); // after a delete: the record that followed it
    }
    if (rc == 0)
        s->dedup_sweep_from.assign(static_cast<char *>(k.mv_data), k.mv_size);
    else
        s->dedup_sweep_from.clear(); // the end: the next sweep starts again
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? HF_STORE_OK : status_of(rc);
}

// Drops expired messages (TTL index, oldest first) and the dedup records
// of silent senders.
void store_expire(void *store, uint64_t now_ms, void (*cb)(void *, int, uint64_t), void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    auto expired = std::make_shared<uint64_t>(0);
    queue_write(
        s,
        [s, now_ms, expired](MDB_txn *txn) -> int {
            *expired = 0; // applied again after a full map lost the window: count once
            MDB_cursor *cur = nullptr;
            std::vector<std::string> dead; // ttl keys
            if (mdb_cursor_open(txn, s->db.ttl, &cur) != 0)
                return HF_STORE_ERROR;
            MDB_val k, v;
            for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                if (k.mv_size < 8 + 9 || hf_get_be64(k.mv_data) > now_ms)
                    break;
                dead.emplace_back(static_cast<char *>(k.mv_data), k.mv_size);
            }
            mdb_cursor_close(cur);
            for (const std::string &tk : dead) {
                std::string dev = tk.substr(8, tk.size() - 8 - 9);
                uint64_t seq = hf_get_be64(tk.data() + tk.size() - 8);
                queue_meta m = read_meta(s, txn, dev);
                int rc = delete_message(s, txn, dev, seq, &m);
                if (rc == 0)
                    (*expired)++;
                else if (rc != MDB_NOTFOUND)
                    return status_of(rc);
                write_meta(s, dev, m);
            }
            return forget_silent_senders(s, txn, now_ms);
        },
        [cb, arg, expired](int status) { cb(arg, status, *expired); });
}

// The message table's entry count, as of the last tick (a scrape does not
// wait for the next one).
void store_depth(void *store, void (*cb)(void *, int, uint64_t), void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    reader r;
    MDB_stat st;
    int rc = begin_read(s, &r);
    if (rc == 0) {
        rc = mdb_stat(r.txn, s->db.msgs, &st);
        end_read(s, &r);
    }
    cb(arg, rc == 0 ? HF_STORE_OK : HF_STORE_ERROR, rc == 0 ? uint64_t(st.ms_entries) : 0);
}

// The pages of every table, and the map they must fit in.
void store_usage(void *store, void (*cb)(void *, int, uint64_t, uint64_t), void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    MDB_envinfo info;
    reader r;
    uint64_t pages = 0;
    int rc = mdb_env_info(s->env, &info);
    if (rc == 0 && (rc = begin_read(s, &r)) == 0) {
        for (MDB_dbi dbi : {s->db.msgs, s->db.meta, s->db.collapse, s->db.dedup, s->db.ttl, s->db.devices}) {
            MDB_stat st;
            if ((rc = mdb_stat(r.txn, dbi, &st)) != 0)
                break;
            pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        }
        end_read(s, &r);
    }
    MDB_stat env;
    if (rc == 0)
        rc = mdb_env_stat(s->env, &env);
    cb(arg, rc == 0 ? HF_STORE_OK : HF_STORE_ERROR, rc == 0 ? pages * env.ms_psize : 0,
       rc == 0 ? uint64_t(info.me_mapsize) : 0);
}

const hf_store_ops lmdb_ops = {
    sizeof(hf_store_ops),
    store_open,
    store_close,
    store_enqueue,
    store_fetch,
    store_ack,
    store_add_device,
    store_list_devices,
    store_expire,
    local_presence_set<lmdb_store>,
    local_presence_clear<lmdb_store>,
    local_presence_lookup<lmdb_store>,
    local_notify<lmdb_store>,
    store_depth,
    store_usage,
};

} // namespace

extern "C" int handoff_module_init(const hf_host_api *, hf_module_info *info)
{
    info->abi_version = HF_MODULE_ABI_VERSION;
    info->kind = HF_MODULE_STORE;
    info->name = "lmdb";
    info->description = "durable per-device queues in LMDB, group commit, for one server";
    info->settings = settings;
    info->setting_count = setting_count;
    info->ops = &lmdb_ops;
    return 0;
}
