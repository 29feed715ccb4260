#include "modules/lmdb/lmdb_durable.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hf_lmdb
{

namespace
{

const char *const record_name = "/durable";

// LMDB 0.9's meta page (format version 1, mdb.c's MDB_page and MDB_meta):
// a 16-byte page header, then the meta: magic, version, address, map
// size, the two databases' records (48 bytes each, the first's first four
// bytes holding the page size), the last page and the txnid. The two meta
// pages are pages 0 and 1.
const size_t header_bytes = 16;
const size_t meta_bytes = 4 + 4 + 8 + 8 + 2 * 48 + 8 + 8;
const size_t magic_at = header_bytes, version_at = header_bytes + 4, page_size_at = header_bytes + 24;
const size_t txnid_at = header_bytes + 4 + 4 + 8 + 8 + 2 * 48 + 8;
const uint32_t lmdb_magic = 0xBEEFC0DE, lmdb_data_version = 1;

struct meta_page {
    unsigned char bytes[header_bytes + meta_bytes];
    uint64_t txnid = 0;
};

template <typename T>
T field(const meta_page &m, size_t at)
{
    T v;
    memcpy(&v, m.bytes + at, sizeof v);
    return v;
}

bool read_meta(int fd, off_t at, meta_page *m)
{
    if (pread(fd, m->bytes, sizeof m->bytes, at) != ssize_t(sizeof m->bytes))
        return false;
    if (field<uint32_t>(*m, magic_at) != lmdb_magic || field<uint32_t>(*m, version_at) != lmdb_data_version)
        return false;
    m->txnid = field<uint64_t>(*m, txnid_at);
    return true;
}

} // namespace

int durable_open(const std::string &folder, durable_record *r)
{
    r->fd = open((folder + record_name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    return r->fd < 0 ? errno : 0;
}

// Two slots, each a txnid and its complement (a torn write of one leaves
// the other); the greater whole one counts.
bool durable_read(const durable_record *r, uint64_t *txnid)
{
    uint64_t slots[4] = {0, 0, 0, 0};
    ssize_t n = pread(r->fd, slots, sizeof slots, 0);
    bool found = false;
    for (int i = 0; i < 2 && n == ssize_t(sizeof slots); i++) {
        if (slots[2 * i] != ~slots[2 * i + 1])
            continue;
        if (!found || slots[2 * i] > *txnid)
            *txnid = slots[2 * i];
        found = true;
    }
    return found;
}

int durable_write(durable_record *r, uint64_t txnid)
{
    uint64_t slot[2] = {txnid, ~txnid};
    off_t at = off_t((r->writes++ & 1) * sizeof slot);
    if (pwrite(r->fd, slot, sizeof slot, at) != ssize_t(sizeof slot))
        return errno ? errno : EIO;
    return fdatasync(r->fd) == 0 ? 0 : errno;
}

void durable_close(durable_record *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

void durable_forget(const std::string &folder, durable_record *r)
{
    durable_close(r);
    unlink((folder + record_name).c_str());
}

int roll_back_unsynced(const std::string &folder, uint64_t recorded, std::string *said)
{
    int fd = open((folder + "/data.mdb").c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 0; // no environment yet
    meta_page first, second;
    bool ok = read_meta(fd, 0, &first);
    uint32_t page_size = ok ? field<uint32_t>(first, page_size_at) : 0;
    ok = ok && page_size >= sizeof first.bytes && read_meta(fd, off_t(page_size), &second);
    if (!ok) {
        close(fd); // not LMDB 0.9's format: LMDB itself says what is wrong
        return 0;
    }
    bool second_newer = second.txnid > first.txnid;
    meta_page &newer = second_newer ? second : first, &older = second_newer ? first : second;
    if (newer.txnid <= recorded) {
        close(fd);
        return 0;
    }
    if (older.txnid != recorded) {
        close(fd);
        *said = "the last commit (txn " + std::to_string(newer.txnid) +
                ") was never synced, and the one before it (txn " + std::to_string(older.txnid) +
                ") is not the last synced (txn " + std::to_string(recorded) +
                "); the store cannot be rolled back safely. Move " + folder +
                " aside and restore it from a backup, or remove its durable file to open it as it is";
        return -1;
    }
    // The older meta over the newer one's, in place (its page header stays).
    off_t at = second_newer ? off_t(page_size) : 0;
    int rc = 0;
    if (pwrite(fd, older.bytes + header_bytes, meta_bytes, at + off_t(header_bytes)) != ssize_t(meta_bytes) ||
        fdatasync(fd) != 0)
        rc = -1;
    close(fd);
    if (rc != 0) {
        *said = "cannot roll back the unsynced last commit: " + std::string(strerror(errno));
        return -1;
    }
    *said = "the last commit before the stop (txn " + std::to_string(newer.txnid) +
            ") was not synced: rolled back to txn " + std::to_string(recorded) +
            ", the last synced. Nothing acknowledged is lost; messages delivered just before may come again";
    return 0;
}

} // namespace hf_lmdb
