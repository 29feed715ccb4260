#include "modules/lmdb/lmdb_queue.h"

#include <endian.h>

#include <cerrno>

#include <cstring>

#include "modules/common/dedup.h"
#include "modules/common/record.h"
#include "modules/lmdb/lmdb_accounts.h"

namespace hf_lmdb
{

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

int table_pages(lmdb_store *s, MDB_txn *txn, uint64_t *pages)
{
    *pages = 0;
    for (MDB_dbi dbi : {s->db.msgs, s->db.meta, s->db.collapse, s->db.dedup, s->db.ttl, s->db.devices}) {
        MDB_stat st;
        if (int rc = mdb_stat(txn, dbi, &st); rc != 0)
            return rc;
        *pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
    return 0;
}

// Record: msg_id, stored_at, expires_at (be64 each), from and collapse
// (u16 length + bytes each), then the payload.

queue_meta read_meta(lmdb_store *s, MDB_txn *txn, const std::string &dev)
{
    if (auto it = s->meta_cache.find(dev); it != s->meta_cache.end())
        return it->second;
    queue_meta m;
    MDB_val k = val(dev), v;
    if (mdb_get(txn, s->db.meta, &k, &v) == 0)
        decode_meta(v, &m);
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

void write_meta(lmdb_store *s, const std::string &dev, const queue_meta &before, const queue_meta &m)
{
    count_meta_change(s, dev, before, m);
    s->meta_cache[dev] = m;
    s->dirty_meta.insert(dev);
}

// The group transaction's metadata into it, once per device it changed.
int put_dirty_meta(lmdb_store *s)
{
    for (const std::string &dev : s->dirty_meta)
        if (int rc = put_meta(s, s->group_txn, dev, s->meta_cache[dev]); rc != 0)
            return rc;
    return 0;
}

int status_of(int rc)
{
    // A full filesystem (ENOSPC, a commit's pages past the file's end) is
    // as full as a full map: senders get store_full and retry_ms, and the
    // acknowledgements of a lost group transaction are applied again alone (they
    // reuse pages already in the file).
    return rc == 0 ? HF_STORE_OK : rc == MDB_MAP_FULL || rc == ENOSPC ? HF_STORE_FULL : HF_STORE_ERROR;
}

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
// only ones into the table; deletes and lost group transactions leave it too high,
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

// De-duplication, then the collapse key and the quotas (the device's,
// then its account's), then the put. A resend or a full queue writes
// nothing.
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
    if (account_full(s, job->dev, freed_count, freed_bytes, job->payload_len))
        return HF_STORE_ACCOUNT_FULL;
    const queue_meta before = m;
    int rc = older ? delete_message(s, txn, job->dev, older, &m) : 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return status_of(rc);
    job->collapsed = older;
    uint64_t seq = m.next_seq++;
    if ((rc = put_message(s, txn, job, seq)) != 0 || (rc = remember_id(s, txn, job, seq)) != 0)
        return status_of(rc);
    m.count++;
    m.bytes += job->payload_len;
    write_meta(s, job->dev, before, m);
    job->seq = seq;
    return HF_STORE_OK;
}

} // namespace hf_lmdb
