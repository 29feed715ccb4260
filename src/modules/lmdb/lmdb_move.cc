#include "modules/lmdb/lmdb_move.h"

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "modules/lmdb/lmdb_accounts.h"
#include "modules/lmdb/lmdb_queue.h"
#include "modules/lmdb/lmdb_group.h"

namespace hf_lmdb
{
namespace
{

bool has_prefix(const MDB_val &k, const std::string &prefix)
{
    return k.mv_size >= prefix.size() && memcmp(k.mv_data, prefix.data(), prefix.size()) == 0;
}

std::string key_of(const MDB_val &k)
{
    return std::string(static_cast<const char *>(k.mv_data), k.mv_size);
}

// Up to max keys of dbi after `after` (all of them with after empty).
int keys_after(MDB_txn *txn, MDB_dbi dbi, const std::string &after, uint32_t max, std::set<std::string> *out)
{
    MDB_cursor *cur = nullptr;
    if (int rc = mdb_cursor_open(txn, dbi, &cur); rc != 0)
        return rc;
    MDB_val k = val(after), v;
    int rc = mdb_cursor_get(cur, &k, &v, after.empty() ? MDB_FIRST : MDB_SET_RANGE);
    for (uint32_t taken = 0; rc == 0 && taken < max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        std::string key = key_of(k);
        if (key == after)
            continue;
        out->insert(std::move(key));
        taken++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

// Deletes every entry of dbi whose key starts with prefix.
int drop_prefixed(MDB_txn *txn, MDB_dbi dbi, const std::string &prefix)
{
    MDB_cursor *cur = nullptr;
    if (int rc = mdb_cursor_open(txn, dbi, &cur); rc != 0)
        return rc;
    MDB_val k = val(prefix), v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && has_prefix(k, prefix);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

// Everything s holds for the device dev, gone: its messages with their
// index entries, collapse keys, dedup records, metadata, revocation and
// device records.
int drop_device(lmdb_store *s, MDB_txn *txn, const std::string &dev)
{
    std::string prefix = dev + '\0';
    queue_meta m = read_meta(s, txn, dev);
    const queue_meta before = m;
    MDB_cursor *cur = nullptr;
    if (int rc = mdb_cursor_open(txn, s->db.msgs, &cur); rc != 0)
        return rc;
    MDB_val k = val(prefix), v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && has_prefix(k, prefix);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        std::string key = key_of(k);
        uint64_t seq = hf_get_be64(static_cast<const char *>(k.mv_data) + prefix.size());
        if ((rc = unindex_stored(s, txn, dev, key, ref_of(seq, v), &m)) != 0 || (rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    MDB_val dk = val(dev);
    if ((rc = drop_prefixed(txn, s->db.collapse, prefix)) != 0 || (rc = drop_prefixed(txn, s->db.dedup, prefix)) != 0 ||
        (rc = drop_prefixed(txn, s->db.records, prefix)) != 0 ||
        (rc = deleted(mdb_del(txn, s->db.meta, &dk, nullptr))) != 0 ||
        (rc = deleted(mdb_del(txn, s->db.devices, &dk, nullptr))) != 0)
        return rc;
    count_meta_change(s, dev, before, queue_meta{});
    s->meta_cache.erase(dev);
    s->dirty_meta.erase(dev);
    hf_tail_drop(&s->tail, dev);
    return 0;
}

// Copies every entry of dbi under prefix from one transaction to another.
// For messages (ttl_into set) each one's expiry entry is made as well.
int copy_prefixed(MDB_txn *from, MDB_txn *into, MDB_dbi from_dbi, MDB_dbi into_dbi, const std::string &prefix,
                  MDB_dbi *ttl_into)
{
    MDB_cursor *cur = nullptr;
    if (int rc = mdb_cursor_open(from, from_dbi, &cur); rc != 0)
        return rc;
    MDB_val k = val(prefix), v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && has_prefix(k, prefix);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if ((rc = mdb_put(into, into_dbi, &k, &v, 0)) != 0)
            break;
        hf_record r;
        if (ttl_into && hf_record_decode(v.mv_data, v.mv_size, &r)) {
            std::string tk;
            hf_put_be64(&tk, r.expires_at);
            tk += key_of(k);
            MDB_val tkv = val(tk), empty{0, nullptr};
            if ((rc = mdb_put(into, *ttl_into, &tkv, &empty, 0)) != 0)
                break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

// In into's group transaction: what into held for dev replaced by what from holds.
// A copy that would take into's tables past its enqueue limit is refused
// (HF_STORE_FULL) and undone with the group transaction: a move is new messages to
// into, so it keeps store.reserve for acknowledgements as enqueues do.
int copy_device(lmdb_store *from, lmdb_store *into, MDB_txn *txn, const std::string &dev)
{
    if (int rc = drop_device(into, txn, dev); rc != 0)
        return status_of(rc);
    reader r;
    if (begin_read(from, &r) != 0)
        return HF_STORE_ERROR;
    std::string prefix = dev + '\0';
    MDB_val dk = val(dev), record;
    int rc = copy_prefixed(r.txn, txn, from->db.msgs, into->db.msgs, prefix, &into->db.ttl);
    if (rc == 0)
        rc = copy_prefixed(r.txn, txn, from->db.collapse, into->db.collapse, prefix, nullptr);
    if (rc == 0)
        rc = copy_prefixed(r.txn, txn, from->db.dedup, into->db.dedup, prefix, nullptr);
    if (rc == 0)
        rc = copy_prefixed(r.txn, txn, from->db.records, into->db.records, prefix, nullptr);
    if (rc == 0 && (rc = mdb_get(r.txn, from->db.devices, &dk, &record)) == 0)
        rc = mdb_put(txn, into->db.devices, &dk, &record, 0);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0)
        write_meta(into, dev, read_meta(into, txn, dev), read_meta(from, r.txn, dev));
    end_read(from, &r);
    uint64_t pages = 0;
    if (rc == 0 && (rc = table_pages(into, txn, &pages)) == 0 && pages > into->enqueue_page_limit)
        return HF_STORE_FULL;
    return status_of(rc);
}

} // namespace

// The union of the devices table (every device that said HELLO, with its
// revocation) and the queues' metadata (every device ever sent to).
void store_each_device(void *store, const char *after_account, const char *after_device, uint32_t max,
                       hf_store_each_device_cb cb, void *arg)
{
    auto *s = static_cast<lmdb_store *>(store);
    std::string after = *after_account ? dev_key(after_account, after_device) : "";
    std::set<std::string> found;
    reader r;
    int rc = begin_read(s, &r);
    if (rc == 0) {
        rc = keys_after(r.txn, s->db.devices, after, max, &found);
        if (rc == 0)
            rc = keys_after(r.txn, s->db.meta, after, max, &found);
        end_read(s, &r);
    }
    if (rc != 0) {
        cb(arg, status_of(rc), nullptr, nullptr, 0);
        return;
    }
    std::vector<const char *> accounts, devices;
    for (const std::string &key : found) {
        if (accounts.size() == max)
            break;
        accounts.push_back(key.c_str()); // up to its NUL
        devices.push_back(key.c_str() + strlen(key.c_str()) + 1);
    }
    cb(arg, HF_STORE_OK, accounts.data(), devices.data(), accounts.size());
}

void store_move_device(void *store, void *into, const char *account, const char *device, hf_store_done_cb cb, void *arg)
{
    auto *from = static_cast<lmdb_store *>(store);
    auto *to = static_cast<lmdb_store *>(into);
    std::string dev = dev_key(account, device);
    queue_write(
        to, [from, to, dev](MDB_txn *txn) { return copy_device(from, to, txn, dev); },
        [from, dev, cb, arg](int status) {
            if (status != HF_STORE_OK) {
                cb(arg, status);
                return;
            }
            queue_write(
                from, [from, dev](MDB_txn *txn) { return status_of(drop_device(from, txn, dev)); },
                [cb, arg](int dropped) { cb(arg, dropped); });
        });
}

} // namespace hf_lmdb
