// What makes sync = batch survive a power cut. Its commits go to the
// kernel at once (MDB_NOSYNC) and a thread syncs them afterwards, so the
// reactor never waits for the disk; but LMDB writes a commit's meta page
// right after its pages, and a power cut before the sync can leave that
// meta page on disk over pages that never arrived (bench/run powercut found
// the store corrupted, or acknowledged messages silently gone).
//
// So the store keeps one more fact on disk: the id of the last commit a
// sync made durable (store.path/durable), written and synced by the sync
// thread before any write that sync covered is answered. At most one
// commit is ever past it (a commit starts only once the sync before it has
// ended and been recorded). At open, before LMDB reads the file, a newest
// meta page whose commit is past the record is that unsynced commit, and
// is replaced by the other meta page: the recorded commit, whose pages are
// on disk and untouched (LMDB writes a commit only into pages freed before
// the commit ahead of it). Nothing acknowledged is lost; what the rolled
// back commit held was not yet acknowledged (a message a device had
// acknowledged comes again: at least once).
#pragma once
#include <cstdint>
#include <string>

namespace hf_lmdb
{

struct durable_record {
    int fd = -1;
    uint64_t writes = 0; // which of the two slots the next write takes
};

// Opens (creating) folder/durable. 0 or an errno.
int durable_open(const std::string &folder, durable_record *r);

// The last commit recorded durable; false when none is (a new store, or
// one last run with another sync mode).
bool durable_read(const durable_record *r, uint64_t *txnid);

// Records txnid as synced: written and synced before it returns. 0 or an
// errno.
int durable_write(durable_record *r, uint64_t txnid);

// Forgets the record (sync = always or off keep none: their commits are
// never past it) and closes it.
void durable_forget(const std::string &folder, durable_record *r);

void durable_close(durable_record *r);

// Before LMDB opens folder/data.mdb: a newest meta page past recorded is
// replaced by the older one, which must be recorded's. Returns 0 (and
// *said a sentence for the log when it rolled back) or -1 with *said the
// reason the store cannot be opened safely.
int roll_back_unsynced(const std::string &folder, uint64_t recorded, std::string *said);

} // namespace hf_lmdb
