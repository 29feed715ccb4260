// store_lmdb's account quota (hf_store_params.account_max_*): what every
// queue of each account holds together, kept in memory as applied. It is
// counted from the meta table when the store opens and again whenever the
// cached metadata goes back to what is committed (a lost group
// transaction), and changed with each device's metadata; nothing of it is
// written, so the file's format is unchanged.
#pragma once
#include <lmdb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "modules/lmdb/lmdb_store.h"

namespace hf_lmdb
{

// Counts every account's queues from the meta table as txn sees it.
int count_accounts(lmdb_store *s, MDB_txn *txn);

// A device's metadata went from before to after.
void count_meta_change(lmdb_store *s, const std::string &dev, const queue_meta &before, const queue_meta &after);

// Whether the device's account is at its quota for a message of
// payload_len that replaces freed_count messages of freed_bytes.
bool account_full(lmdb_store *s, const std::string &dev, uint64_t freed_count, uint64_t freed_bytes,
                  uint64_t payload_len);

// The account's devices whose queue holds anything, as applied.
int queued_devices(lmdb_store *s, MDB_txn *txn, const char *account, std::vector<std::string> *devices);

} // namespace hf_lmdb
