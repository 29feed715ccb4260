// store_lmdb: durable per-device queues in one LMDB environment, for a
// single server. Writes of one reactor tick are applied together, straight
// into the open "group transaction" transaction, and published at once (connected
// devices are sent new messages from the group transaction). With
// sync = "batch" the group transaction is committed only when a sync can start (at
// most once per sync_interval, see syncer.h), so a page that many ticks
// change is written once, and a message acknowledged within the group transaction
// costs its pages no disk write; an enqueue is acknowledged only once a
// sync covers it. Other sync settings commit the group transaction every tick.
// See docs/storage.md for the layout and the durability of each setting.
#include <event2/event.h>
#include <endian.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

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

#include "handoff/module.h"
#include "modules/common/dedup.h"
#include "modules/common/local_presence.h"
#include "modules/lmdb/syncer.h"
#include "modules/common/record.h"
#include "modules/common/tail_cache.h"
#include "modules/lmdb/lmdb_format.h"
#include "modules/lmdb/lmdb_move.h"
#include "modules/lmdb/lmdb_accounts.h"
#include "modules/lmdb/lmdb_queue.h"
#include "modules/lmdb/lmdb_group.h"
#include "modules/lmdb/lmdb_watchdog.h"

namespace
{

using namespace hf_lmdb;

enum setting_index {
    path_setting,
    map_size_setting,
    sync_setting,
    sync_interval_setting,
    tail_cache_setting,
    reserve_setting,
    preallocate_setting,
    sync_timeout_setting,
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
    {"reserve", HF_SETTING_INT, "25", 5, 90,
     "percent of map_size kept for deletions: new messages get store_full once the tables fill the rest, so "
     "that acknowledgements and expiry can always commit"},
    {"preallocate", HF_SETTING_BOOL, "true", 0, 1,
     "reserve map_size's blocks on disk at open (fallocate, the file's size unchanged), so that a filesystem "
     "that fills later cannot stop acknowledgements from committing"},
    {"sync_timeout", HF_SETTING_DURATION, "10s", 100, 3600000,
     "with sync = batch, how long one sync (fdatasync) may run before the disk counts as stalled: the messages "
     "waiting for it and new ones are answered store_unavailable and /readyz says not ready, until it ends"},
};

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

// Opens the store's durable record; with one, a last commit the record
// does not cover is rolled back (lmdb_durable.h). Modes that keep no
// record (always, off) forget a batch run's, which their commits would
// pass. False, with err, when the store cannot be opened safely.
bool roll_back_if_unsynced(lmdb_store *s, const char *path, char *err, size_t err_len)
{
    if (int rc = durable_open(path, &s->durable); rc != 0) {
        snprintf(err, err_len, "cannot open %s/durable: %s", path, strerror(rc));
        return false;
    }
    uint64_t recorded = 0;
    std::string said;
    if (durable_read(&s->durable, &recorded) && roll_back_unsynced(path, recorded, &said) != 0) {
        snprintf(err, err_len, "store.path %s: %s", path, said.c_str());
        durable_close(&s->durable);
        return false;
    }
    if (!said.empty())
        s->host->log(s->host->host, HF_LOG_WARNING, "store_lmdb", "%s: %s", path, said.c_str());
    if (s->sync != sync_mode::batch)
        durable_forget(path, &s->durable);
    return true;
}

// The disk blocks of the whole map, taken at open (fallocate, the file's
// size unchanged): a filesystem that fills later cannot refuse a commit
// its pages, so acknowledgements always commit and senders are refused
// only for a full map (store_full, store.reserve). Where that cannot be
// had, a full filesystem gives senders store_full too, but a deletion may
// then fail as well: said once at open.
void reserve_disk(lmdb_store *s, const char *path, size_t map_size)
{
    int fd = open((std::string(path) + "/data.mdb").c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    int rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, off_t(map_size)) == 0 ? 0 : errno;
    close(fd);
    if (rc != 0)
        s->host->log(s->host->host, rc == ENOSPC ? HF_LOG_WARNING : HF_LOG_INFO, "store_lmdb",
                     "%s: cannot reserve store.map_size (%zu bytes) on disk: %s; should the filesystem fill, "
                     "acknowledgements may fail to commit until it has room",
                     path, map_size, strerror(rc));
}

// After a failed sync the kernel may keep pages that never reached the
// disk, marked clean: a restarted daemon would read them and acknowledge
// resends against them. So the environment's file is read from the disk
// afresh at open (the lock keeps any other process from having it mapped).
void drop_cached_pages(const char *path)
{
    int fd = open((std::string(path) + "/data.mdb").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return; // a new store
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

int store_check(const hf_setting_value *values, char *err, size_t err_len)
{
    std::string sync = values[sync_setting].string, why;
    if (sync != "always" && sync != "batch" && sync != "off") {
        snprintf(err, err_len, "store.sync must be \"always\", \"batch\" or \"off\", not \"%s\"", sync.c_str());
        return -1;
    }
    if (!formats_readable(values[path_setting].string, &why)) {
        snprintf(err, err_len, "%s", why.c_str());
        return -1;
    }
    return 0;
}

void log_format_step(const char *line, void *arg)
{
    auto *s = static_cast<lmdb_store *>(arg);
    s->host->log(s->host->host, HF_LOG_INFO, "store_lmdb", "%s", line);
}

int store_open(const hf_host_api *host, const hf_store_params *params, const hf_setting_value *values, void **store,
               char *err, size_t err_len)
{
    if (store_check(values, err, err_len) != 0)
        return -1;
    auto *s = new lmdb_store;
    s->host = host;
    s->params = *params;
    std::string sync = values[sync_setting].string;
    s->sync = sync == "always" ? sync_mode::always : sync == "batch" ? sync_mode::batch : sync_mode::off;
    s->sync_interval_ms = uint64_t(values[sync_interval_setting].number);
    s->sync_timeout_ms = uint64_t(values[sync_timeout_setting].number);
    s->tail.budget = size_t(values[tail_cache_setting].number);
    s->tail.per_device = tail_per_device;
    const char *path = values[path_setting].string;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create store.path %s: %s", path, strerror(errno));
        delete s;
        return -1;
    }
    std::string format_err;
    int was_format = -1;
    if (!formats_readable(path, &format_err) || !format_of(path, &was_format, &format_err)) {
        snprintf(err, err_len, "%s", format_err.c_str());
        delete s;
        return -1;
    }
    if (!roll_back_if_unsynced(s, path, err, err_len)) {
        delete s;
        return -1;
    }
    drop_cached_pages(path);
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
    MDB_stat env_stat;
    MDB_envinfo env_info; // its map: ours, or an existing file's if larger
    if (rc == 0 && (rc = mdb_env_stat(s->env, &env_stat)) == 0 && (rc = mdb_env_info(s->env, &env_info)) == 0) {
        s->page_size = env_stat.ms_psize;
        uint64_t map_pages = uint64_t(env_info.me_mapsize) / s->page_size;
        s->enqueue_page_limit = map_pages * uint64_t(100 - values[reserve_setting].number) / 100;
    }
    if (rc == 0 && values[preallocate_setting].number)
        reserve_disk(s, path, env_info.me_mapsize);
    MDB_txn *txn = nullptr;
    if (rc == 0)
        rc = mdb_txn_begin(s->env, nullptr, 0, &txn);
    // records came with handoffd 0.3.0: an older one leaves the table be.
    const char *names[] = {"msgs", "meta", "collapse", "dedup", "ttl", "devices", "records"};
    MDB_dbi *handles[] = {&s->db.msgs, &s->db.meta,    &s->db.collapse, &s->db.dedup,
                          &s->db.ttl,  &s->db.devices, &s->db.records};
    for (int i = 0; rc == 0 && i < 7; i++)
        rc = mdb_dbi_open(txn, names[i], MDB_CREATE, handles[i]);
    if (rc == 0)
        rc = drop_old_tables(txn);
    if (rc == 0)
        rc = count_accounts(s, txn);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (rc == 0 && !format_up(path, was_format, log_format_step, s, &format_err)) {
        s->host->log(s->host->host, HF_LOG_ERROR, "store_lmdb", "%s", format_err.c_str());
        rc = EIO;
    }
    // What opening wrote is synced and recorded before any other commit.
    if (rc == 0 && s->sync == sync_mode::batch && (rc = mdb_env_info(s->env, &env_info)) == 0) {
        s->last_commit_txnid = env_info.me_last_txnid;
        rc = sync_env(s);
    }
    if (rc != 0) {
        snprintf(err, err_len, "cannot open the LMDB store in %s: %s", path, mdb_strerror(rc));
        if (s->env)
            mdb_env_close(s->env);
        durable_close(&s->durable);
        delete s;
        return -1;
    }
    event_base *base = host->event_base(host->host);
    s->apply_event = event_new(base, -1, 0, apply_queued, s);
    std::string syncer_err;
    if (s->sync == sync_mode::batch &&
        (!watchdog_start(s, base) || !(s->syncer = hf_syncer_start(base, {commit_group, sync_env, answer_synced, s},
                                                                   s->sync_interval_ms, &syncer_err)))) {
        watchdog_stop(s);
        snprintf(err, err_len, "%s", syncer_err.c_str());
        event_free(s->apply_event);
        mdb_env_close(s->env);
        durable_close(&s->durable);
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
    commit_group(s);
    sync_all(s);
    if (s->read_txn)
        mdb_txn_abort(s->read_txn);
    watchdog_stop(s);
    event_free(s->apply_event);
    if (!s->failed)
        mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    durable_close(&s->durable);
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

// Reads from LMDB (the group transaction, or what is committed when none is open). A
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
    cb(arg, b->status(), b->out.data(), b->out.size());
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
    cb(arg, b.status(), b.out.data(), b.out.size());
}

void store_ack(void *store, const char *account, const char *device, uint64_t upto_seq, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string dev = dev_key(account, device);
    queue_write(
        s,
        [s, dev, upto_seq](MDB_txn *txn) -> int {
            queue_meta m = read_meta(s, txn, dev);
            const queue_meta before = m;
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
            write_meta(s, dev, before, m);
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
            // The value is the device's revocation, if it has one: kept.
            int rc = mdb_put(txn, s->db.devices, &k, &empty, MDB_NOOVERWRITE);
            return rc == MDB_KEYEXIST ? HF_STORE_OK : status_of(rc);
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

// Deletes the dedup records of senders silent for the dedup group transaction, in
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
            *expired = 0; // applied again after a full map lost the group transaction: count once
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
                const queue_meta before = m;
                int rc = delete_message(s, txn, dev, seq, &m);
                if (rc == 0)
                    (*expired)++;
                else if (rc != MDB_NOTFOUND)
                    return status_of(rc);
                write_meta(s, dev, before, m);
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
        rc = table_pages(s, r.txn, &pages);
        end_read(s, &r);
    }
    cb(arg, rc == 0 ? HF_STORE_OK : HF_STORE_ERROR, rc == 0 ? pages * s->page_size : 0,
       rc == 0 ? uint64_t(info.me_mapsize) : 0);
}

// A revocation, as the devices table's value holds it: not_before_ms
// (8 bytes, big-endian) and revoked (1 byte); empty for none.
const size_t revocation_len = 9;

// The devices table's revocation of key, read in txn, into state.
void read_revocation(lmdb_store *s, MDB_txn *txn, const std::string &key, hf_store_device_state *state)
{
    MDB_val k = val(key), v;
    if (mdb_get(txn, s->db.devices, &k, &v) == 0 && v.mv_size == revocation_len) {
        auto *p = static_cast<const uint8_t *>(v.mv_data);
        state->not_before_ms = hf_get_be64(p);
        state->revoked = p[8];
    }
}

void store_device_state(void *store, const char *account, const char *device, hf_store_state_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string key = dev_key(account, device);
    hf_store_device_state state{};
    reader r;
    int rc = begin_read(s, &r);
    if (rc == 0) {
        queue_meta m = read_meta(s, r.txn, key);
        state.queue_messages = m.count;
        state.queue_bytes = m.bytes;
        read_revocation(s, r.txn, key, &state);
        end_read(s, &r);
    }
    hf_local_presence_state(&s->presence, account, device, &state);
    cb(arg, rc == 0 ? HF_STORE_OK : HF_STORE_ERROR, &state);
}

void store_queued_devices(void *store, const char *account, hf_store_devices_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::vector<std::string> devices;
    reader r;
    int rc = begin_read(s, &r);
    if (rc == 0) {
        rc = queued_devices(s, r.txn, account, &devices);
        end_read(s, &r);
    }
    std::vector<const char *> names;
    for (const std::string &d : devices)
        names.push_back(d.c_str());
    cb(arg, rc == 0 ? HF_STORE_OK : HF_STORE_ERROR, names.data(), names.size());
}

void store_revocation(void *store, const char *account, const char *device, void (*cb)(void *, int, uint64_t, int),
                      void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    hf_store_device_state state{};
    reader r;
    int rc = begin_read(s, &r);
    if (rc == 0) {
        read_revocation(s, r.txn, dev_key(account, device), &state);
        end_read(s, &r);
    }
    cb(arg, rc == 0 ? HF_STORE_OK : HF_STORE_ERROR, state.not_before_ms, state.revoked);
}

void store_set_revocation(void *store, const char *account, const char *device, uint64_t not_before_ms, int revoked,
                          hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string key = dev_key(account, device);
    std::string value;
    hf_put_be64(&value, not_before_ms);
    value.push_back(char(revoked ? 1 : 0));
    queue_write(
        s,
        [s, key, value](MDB_txn *txn) -> int {
            MDB_val k = val(key), v = val(value);
            return status_of(mdb_put(txn, s->db.devices, &k, &v, 0));
        },
        [cb, arg](int status) { cb(arg, status); });
}

void store_record_put(void *store, const char *account, const char *device, const char *name, const uint8_t *value,
                      size_t value_len, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string key = dev_key(account, device) + '\0' + name;
    bool remove = value == nullptr;
    std::string bytes = remove ? "" : std::string(reinterpret_cast<const char *>(value), value_len);
    queue_write(
        s,
        [s, key, bytes, remove](MDB_txn *txn) -> int {
            MDB_val k = val(key), v = val(bytes);
            return status_of(remove ? deleted(mdb_del(txn, s->db.records, &k, nullptr))
                                    : mdb_put(txn, s->db.records, &k, &v, 0));
        },
        [cb, arg](int status) { cb(arg, status); });
}

void store_records(void *store, const char *account, const char *device, hf_store_records_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string prefix = dev_key(account, device) + '\0';
    std::vector<std::pair<std::string, std::string>> found;
    reader r;
    int rc = begin_read(s, &r);
    bool reading = rc == 0;
    MDB_cursor *cur = nullptr;
    if (reading && (rc = mdb_cursor_open(r.txn, s->db.records, &cur)) == 0) {
        MDB_val k = val(prefix), v;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
             rc == 0 && k.mv_size > prefix.size() && memcmp(k.mv_data, prefix.data(), prefix.size()) == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            found.emplace_back(
                std::string(static_cast<const char *>(k.mv_data) + prefix.size(), k.mv_size - prefix.size()),
                std::string(static_cast<const char *>(v.mv_data), v.mv_size));
        mdb_cursor_close(cur);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (reading)
        end_read(s, &r);
    std::vector<hf_store_record> records;
    for (const auto &[name, value] : found)
        records.push_back({name.c_str(), reinterpret_cast<const uint8_t *>(value.data()), value.size()});
    cb(arg, status_of(rc), records.data(), records.size());
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
    store_device_state,
    store_set_revocation,
    local_kick<lmdb_store>,
    nullptr, // watch: one server sees every change itself
    store_revocation,
    store_each_device,
    store_move_device,
    store_check,
    watchdog_health,
    HF_STORE_FOLDERS,
    store_queued_devices,
    nullptr, // ack_sent: one writer numbers each queue: its seqs cannot fork
    nullptr, // format: each server's own, nothing to agree on with others
    nullptr, // presence_refresh: no other server to take a device's presence
    store_record_put,
    store_records,
};

} // namespace

HF_MODULE_DECLARE(HF_MODULE_STORE, "lmdb", "durable per-device queues in LMDB, group commit, for one server", settings,
                  setting_count, &lmdb_ops)
