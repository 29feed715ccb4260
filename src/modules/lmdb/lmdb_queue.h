// store_lmdb's keys and records, a queue's metadata, and the steps of an
// enqueue inside the group transaction: de-duplication, the collapse key and the
// quota, then the put.
#pragma once
#include <lmdb.h>

#include <cstdint>
#include <string>

#include "modules/lmdb/lmdb_store.h"
#include "modules/common/record.h"

namespace hf_lmdb
{

// Devices whose metadata meta_cache keeps at most; past that it starts
// again empty after a commit (about 100 bytes each).
const size_t meta_cache_max = 100000;

// What deleting a stored message undoes besides its record, read from the
// record (copied: deleting index entries may move the page it is on).
struct stored_ref {
    uint64_t seq;
    bool decoded; // false: a damaged record, deleted without index entries
    hf_record record;
};

// Keys (see the layout in lmdb_store.h): a device, and its message seq.
std::string dev_key(const char *account, const char *device);

std::string msg_key(const std::string &dev, uint64_t seq);

// An LMDB value over the string's bytes.
MDB_val val(const std::string &s);

// The pages every table holds in txn (branch, leaf and overflow).
int table_pages(lmdb_store *s, MDB_txn *txn, uint64_t *pages);

// A device queue's metadata as applied (cached, or read in txn), and
// kept as changed until the group transaction commits.
queue_meta read_meta(lmdb_store *s, MDB_txn *txn, const std::string &dev);

// m replaces before (read_meta's answer) as the device's metadata.
void write_meta(lmdb_store *s, const std::string &dev, const queue_meta &before, const queue_meta &m);

// The group transaction's metadata into it, once per device it changed.
int put_dirty_meta(lmdb_store *s);

// An LMDB result as an hf_store_status (a full map: HF_STORE_FULL).
int status_of(int rc);

// What deleting the stored message of seq, whose record is v, undoes.
stored_ref ref_of(uint64_t seq, const MDB_val &v);

// A delete's result: an entry already gone is no failure.
int deleted(int rc);

// Deletes a stored message's index entries and counts it out of m; its
// record is the caller's to delete. A delete can fail for want of a page
// (a full map): that failure is returned, so that the caller reports the
// store full rather than a transaction LMDB has given up on.
int unindex_stored(lmdb_store *s, MDB_txn *txn, const std::string &dev, const std::string &key, const stored_ref &ref,
                   queue_meta *m);

// Deletes the message of seq, its record and its index entries, and
// counts it out of m; 0 if it is not there.
int delete_message(lmdb_store *s, MDB_txn *txn, const std::string &dev, uint64_t seq, queue_meta *m);

// De-duplication, then the collapse key and the quota, then the put. A
// resend or a full queue writes nothing.
int apply_enqueue(lmdb_store *s, MDB_txn *txn, enqueue_job *job);

} // namespace hf_lmdb
