#include "modules/lmdb/lmdb_accounts.h"

#include <cstring>

#include <algorithm>

#include "modules/common/record.h"

namespace hf_lmdb
{

namespace
{

// The account of dev (account 0x00 device).
std::string account_of(const std::string &dev)
{
    return dev.substr(0, dev.find('\0'));
}

} // namespace

int count_accounts(lmdb_store *s, MDB_txn *txn)
{
    s->accounts.clear();
    MDB_cursor *cur = nullptr;
    if (int rc = mdb_cursor_open(txn, s->db.meta, &cur); rc != 0)
        return rc;
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        queue_meta m;
        if (!decode_meta(v, &m) || m.count == 0)
            continue;
        account_usage &a = s->accounts[account_of(std::string(static_cast<const char *>(k.mv_data), k.mv_size))];
        a.messages += m.count;
        a.bytes += m.bytes;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void count_meta_change(lmdb_store *s, const std::string &dev, const queue_meta &before, const queue_meta &after)
{
    if (before.count == after.count && before.bytes == after.bytes)
        return;
    auto it = s->accounts.try_emplace(account_of(dev)).first;
    account_usage &a = it->second;
    a.messages = a.messages + after.count - std::min(a.messages, before.count);
    a.bytes = a.bytes + after.bytes - std::min(a.bytes, before.bytes);
    if (a.messages == 0)
        s->accounts.erase(it);
}

bool account_full(lmdb_store *s, const std::string &dev, uint64_t freed_count, uint64_t freed_bytes,
                  uint64_t payload_len)
{
    auto it = s->accounts.find(account_of(dev));
    if (it == s->accounts.end())
        return payload_len > s->params.account_max_bytes;
    const account_usage &a = it->second;
    return a.messages - std::min(a.messages, freed_count) >= s->params.account_max_messages ||
           a.bytes - std::min(a.bytes, freed_bytes) + payload_len > s->params.account_max_bytes;
}

int queued_devices(lmdb_store *s, MDB_txn *txn, const char *account, std::vector<std::string> *devices)
{
    std::string prefix = account;
    prefix.push_back('\0');
    // The group transaction's metadata is in meta_cache until its commit.
    for (const auto &cached : s->meta_cache)
        if (cached.second.count > 0 && cached.first.compare(0, prefix.size(), prefix) == 0)
            devices->push_back(cached.first.substr(prefix.size()));
    MDB_cursor *cur = nullptr;
    if (int rc = mdb_cursor_open(txn, s->db.meta, &cur); rc != 0)
        return rc;
    MDB_val k{prefix.size(), prefix.data()}, v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix.size() || memcmp(k.mv_data, prefix.data(), prefix.size()) != 0)
            break;
        std::string dev(static_cast<const char *>(k.mv_data), k.mv_size);
        queue_meta m;
        if (!s->meta_cache.count(dev) && decode_meta(v, &m) && m.count > 0)
            devices->push_back(dev.substr(prefix.size()));
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

} // namespace hf_lmdb
