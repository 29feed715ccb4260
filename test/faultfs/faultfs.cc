// faultfs: a FUSE filesystem for fault tests, in the spirit of LazyFS.
// It passes a backing folder through, except that data written to a file
// and not yet fsynced stays apart, in memory, as a disk's volatile cache
// would: reads see it, the backing file does not have it. fsync (and
// fdatasync) writes a file's pending pages to the backing file and syncs
// it. Metadata (create, rename, unlink, mkdir) reaches the backing folder
// at once.
//
// Faults are commands written to the file /.faultfs at the mount's root:
//   cut              a power cut: every pending page is lost, and the
//                    disk is gone until the next mount (every write, sync
//                    or change fails with EIO, an fsync under way too)
//   cut-random SEED  a power cut in which a random part of the pending
//                    pages (each with odds of one half, from SEED) had
//                    reached the disk, in no order
//   fail-fsync       the next fsync fails with EIO, and the pages it
//                    covered are lost (Linux marks them clean and drops the
//                    error: a later fsync succeeds)
//   fsync-delay MS   each fsync takes MS milliseconds more, as a disk's
//                    would: the pages it covers are those pending when it
//                    began, and writes go on meanwhile (0: none)
//   full             the disk is full: a write or truncate that would make
//                    a file longer than its blocks fails with ENOSPC (one
//                    within them, or within what fallocate KEEP_SIZE
//                    reserved, goes on)
//   room             writes succeed again
//   no-fallocate     fallocate is not supported (as on some filesystems)
// Reading /.faultfs gives counts: "pending_pages N\nfsyncs N\nfailed_fsyncs N\n".
// After a cut, kill the program under test, then unmount and mount again
// (which drops the kernel's page cache) before it starts again.
//
// Usage: faultfs BACKING MOUNTPOINT [FUSE options], e.g. -f
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace
{

const size_t page_size = 4096;
const char control_name[] = "/.faultfs";

// A file with pages not yet synced: its size as readers see it, and the
// pages that differ from the backing file.
struct pending_file {
    uint64_t size = 0;
    std::map<uint64_t, std::string> pages; // page number -> page_size bytes
};

struct state {
    std::string backing;
    std::map<std::string, pending_file> files; // by path in the mount
    std::map<std::string, uint64_t> reserved;  // fallocate KEEP_SIZE: blocks up to here, by path
    bool fail_next_fsync = false, full = false, no_fallocate = false;
    uint64_t fsync_delay_ms = 0;
    bool powered_off = false; // cut: nothing reaches the disk any more
    uint64_t fsyncs = 0, failed_fsyncs = 0;
    std::string control_out;
} fs;

// FUSE runs operations on several threads (so that writes go on during a
// slow fsync); each takes this for its whole run, but a slow fsync's wait.
std::mutex fs_lock;

std::string real(const char *path)
{
    return fs.backing + path;
}

bool is_control(const char *path)
{
    return strcmp(path, control_name) == 0;
}

uint64_t backing_size(const std::string &path)
{
    struct stat st;
    return lstat(real(path.c_str()).c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

// A page as readers see it now.
std::string current_page(const std::string &path, pending_file &f, uint64_t page)
{
    auto it = f.pages.find(page);
    if (it != f.pages.end())
        return it->second;
    std::string bytes(page_size, '\0');
    int fd = open(real(path.c_str()).c_str(), O_RDONLY);
    if (fd >= 0) {
        ssize_t n = pread(fd, &bytes[0], page_size, off_t(page * page_size));
        (void)n;
        close(fd);
    }
    uint64_t start = page * page_size;
    if (start >= f.size)
        bytes.assign(page_size, '\0');
    else if (f.size - start < page_size)
        std::fill(bytes.begin() + long(f.size - start), bytes.end(), '\0');
    return bytes;
}

pending_file &pending_of(const std::string &path)
{
    auto it = fs.files.find(path);
    if (it == fs.files.end()) {
        it = fs.files.emplace(path, pending_file{}).first;
        it->second.size = backing_size(path);
    }
    return it->second;
}

// Writes some of a file's pending pages (all, or those the coin picks) to
// its backing file, and its size; syncs when asked. -errno or 0.
int write_back(const std::string &path, pending_file &f, std::mt19937_64 *coin, bool sync)
{
    int fd = open(real(path.c_str()).c_str(), O_WRONLY);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (!coin || (*coin)() & 1)
        if (ftruncate(fd, off_t(f.size)) != 0)
            rc = -errno;
    for (auto &[page, bytes] : f.pages) {
        if (coin && !((*coin)() & 1))
            continue;
        uint64_t start = page * page_size;
        if (start >= f.size)
            continue;
        size_t len = size_t(std::min<uint64_t>(page_size, f.size - start));
        if (pwrite(fd, bytes.data(), len, off_t(start)) != ssize_t(len))
            rc = -EIO;
    }
    if (sync && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

void power_cut(std::mt19937_64 *coin)
{
    fs.powered_off = true;

    if (coin)
        for (auto &[path, f] : fs.files)
            write_back(path, f, coin, true);
    fs.files.clear();
}

void run_command(const std::string &line)
{
    char word[32] = "";
    unsigned long long seed = 0;
    int n = sscanf(line.c_str(), "%31s %llu", word, &seed);
    if (n >= 1 && strcmp(word, "cut") == 0) {
        power_cut(nullptr);
    } else if (n == 2 && strcmp(word, "cut-random") == 0) {
        std::mt19937_64 coin(seed);
        power_cut(&coin);
    } else if (n >= 1 && strcmp(word, "fail-fsync") == 0) {
        fs.fail_next_fsync = true;
    } else if (n == 2 && strcmp(word, "fsync-delay") == 0) {
        fs.fsync_delay_ms = seed;
    } else if (n >= 1 && strcmp(word, "full") == 0) {
        fs.full = true;
    } else if (n >= 1 && strcmp(word, "room") == 0) {
        fs.full = false;
    } else if (n >= 1 && strcmp(word, "no-fallocate") == 0) {
        fs.no_fallocate = true;
    } else {
        fprintf(stderr, "faultfs: unknown command \"%s\"\n", line.c_str());
    }
}

std::string counts()
{
    size_t pending = 0;
    for (auto &entry : fs.files)
        pending += entry.second.pages.size();
    return "pending_pages " + std::to_string(pending) + "\nfsyncs " + std::to_string(fs.fsyncs) + "\nfailed_fsyncs " +
           std::to_string(fs.failed_fsyncs) + "\n";
}

// ---- operations ----------------------------------------------------

int op_getattr(const char *path, struct stat *st, fuse_file_info *)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (is_control(path)) {
        memset(st, 0, sizeof *st);
        st->st_mode = S_IFREG | 0600;
        st->st_nlink = 1;
        st->st_size = off_t(counts().size());
        return 0;
    }
    if (lstat(real(path).c_str(), st) != 0)
        return -errno;
    auto it = fs.files.find(path);
    if (it != fs.files.end() && S_ISREG(st->st_mode))
        st->st_size = off_t(it->second.size);
    return 0;
}

int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t, fuse_file_info *, fuse_readdir_flags)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    DIR *dir = opendir(real(path).c_str());
    if (!dir)
        return -errno;
    while (dirent *e = readdir(dir))
        fill(buf, e->d_name, nullptr, 0, fuse_fill_dir_flags(0));
    closedir(dir);
    return 0;
}

int op_open(const char *path, fuse_file_info *fi)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (is_control(path))
        return 0;
    int fd = open(real(path).c_str(), fi->flags & ~(O_TRUNC | O_CREAT | O_EXCL));
    if (fd < 0)
        return -errno;
    close(fd);
    if (fi->flags & O_TRUNC) {
        pending_file &f = pending_of(path);
        f.size = 0;
        f.pages.clear();
    }
    return 0;
}

int op_create(const char *path, mode_t mode, fuse_file_info *fi)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (fs.powered_off)
        return -EIO;
    int fd = open(real(path).c_str(), fi->flags | O_CREAT, mode);
    if (fd < 0)
        return -errno;
    close(fd);
    fs.files.erase(path);
    return 0;
}

int op_read(const char *path, char *buf, size_t size, off_t offset, fuse_file_info *)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (is_control(path)) {
        std::string text = counts();
        if (size_t(offset) >= text.size())
            return 0;
        size_t n = std::min(size, text.size() - size_t(offset));
        memcpy(buf, text.data() + offset, n);
        return int(n);
    }
    auto it = fs.files.find(path);
    if (it == fs.files.end()) {
        int fd = open(real(path).c_str(), O_RDONLY);
        if (fd < 0)
            return -errno;
        ssize_t n = pread(fd, buf, size, offset);
        close(fd);
        return n < 0 ? -errno : int(n);
    }
    pending_file &f = it->second;
    if (uint64_t(offset) >= f.size)
        return 0;
    size = size_t(std::min<uint64_t>(size, f.size - uint64_t(offset)));
    size_t done = 0;
    while (done < size) {
        uint64_t at = uint64_t(offset) + done, page = at / page_size;
        size_t in_page = size_t(at % page_size), n = std::min(size - done, page_size - in_page);
        std::string bytes = current_page(path, f, page);
        memcpy(buf + done, bytes.data() + in_page, n);
        done += n;
    }
    return int(size);
}

int op_write(const char *path, const char *buf, size_t size, off_t offset, fuse_file_info *)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (is_control(path)) {
        fs.control_out.append(buf, size);
        size_t nl;
        while ((nl = fs.control_out.find('\n')) != std::string::npos) {
            run_command(fs.control_out.substr(0, nl));
            fs.control_out.erase(0, nl + 1);
        }
        return int(size);
    }
    if (fs.powered_off)
        return -EIO;
    pending_file &f = pending_of(path);
    if (fs.full && uint64_t(offset) + size > std::max(f.size, fs.reserved[path]))
        return -ENOSPC;
    size_t done = 0;
    while (done < size) {
        uint64_t at = uint64_t(offset) + done, page = at / page_size;
        size_t in_page = size_t(at % page_size), n = std::min(size - done, page_size - in_page);
        std::string bytes = current_page(path, f, page);
        memcpy(&bytes[in_page], buf + done, n);
        f.pages[page] = std::move(bytes);
        done += n;
    }
    f.size = std::max<uint64_t>(f.size, uint64_t(offset) + size);
    return int(size);
}

int op_truncate(const char *path, off_t size, fuse_file_info *)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (fs.powered_off)
        return -EIO;
    pending_file &f = pending_of(path);
    if (fs.full && uint64_t(size) > std::max(f.size, fs.reserved[path]))
        return -ENOSPC;
    if (uint64_t(size) < f.size) {
        // The tail of a page cut in two reads as zeros if it grows again.
        uint64_t page = uint64_t(size) / page_size;
        std::string bytes = current_page(path, f, page);
        std::fill(bytes.begin() + long(uint64_t(size) % page_size), bytes.end(), '\0');
        f.pages.erase(f.pages.upper_bound(page), f.pages.end());
        f.pages[page] = std::move(bytes);
    }
    f.size = uint64_t(size);
    return 0;
}

int op_fsync(const char *path, int, fuse_file_info *)
{
    std::unique_lock<std::mutex> hold(fs_lock);
    if (fs.powered_off)
        return -EIO;
    fs.fsyncs++;
    auto it = fs.files.find(path);
    if (fs.fail_next_fsync) {
        fs.fail_next_fsync = false;
        fs.failed_fsyncs++;
        if (it != fs.files.end())
            fs.files.erase(it); // the pages are gone; the error is reported once
        return -EIO;
    }
    if (it == fs.files.end())
        return 0;
    // What this fsync covers: the file as it is now.
    pending_file covered = it->second;
    if (fs.fsync_delay_ms) {
        hold.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(fs.fsync_delay_ms));
        hold.lock();
        if (fs.powered_off)
            return -EIO; // the power went while the disk worked
    }
    int rc = write_back(path, covered, nullptr, true);
    it = fs.files.find(path);
    if (rc != 0 || it == fs.files.end())
        return rc;
    // Pages written again meanwhile stay pending, with their new bytes.
    for (auto page = it->second.pages.begin(); page != it->second.pages.end();) {
        auto was = covered.pages.find(page->first);
        page = was != covered.pages.end() && was->second == page->second ? it->second.pages.erase(page) : std::next(page);
    }
    if (it->second.pages.empty() && it->second.size == covered.size)
        fs.files.erase(it);
    return 0;
}

// Only the reservation a database makes (blocks past the end, the size
// unchanged); the blocks are the backing file's too, so that the disk
// really has them.
int op_fallocate(const char *path, int mode, off_t offset, off_t length, fuse_file_info *)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (fs.powered_off)
        return -EIO;
    if (mode != FALLOC_FL_KEEP_SIZE || fs.no_fallocate)
        return -EOPNOTSUPP;
    uint64_t end = uint64_t(offset) + uint64_t(length);
    if (fs.full && end > std::max(pending_of(path).size, fs.reserved[path]))
        return -ENOSPC;
    int fd = open(real(path).c_str(), O_WRONLY);
    if (fd < 0)
        return -errno;
    int rc = fallocate(fd, mode, offset, length) == 0 ? 0 : -errno;
    close(fd);
    if (rc == 0)
        fs.reserved[path] = std::max(fs.reserved[path], end);
    return rc;
}

int op_unlink(const char *path)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (fs.powered_off)
        return -EIO;
    fs.files.erase(path);
    return unlink(real(path).c_str()) == 0 ? 0 : -errno;
}

int op_rename(const char *from, const char *to, unsigned int flags)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (fs.powered_off)
        return -EIO;
    if (flags)
        return -EINVAL;
    if (rename(real(from).c_str(), real(to).c_str()) != 0)
        return -errno;
    fs.files.erase(to);
    auto it = fs.files.find(from);
    if (it != fs.files.end()) {
        fs.files[to] = std::move(it->second);
        fs.files.erase(it);
    }
    return 0;
}

int op_mkdir(const char *path, mode_t mode)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (fs.powered_off)
        return -EIO;
    return mkdir(real(path).c_str(), mode) == 0 ? 0 : -errno;
}

int op_rmdir(const char *path)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (fs.powered_off)
        return -EIO;
    return rmdir(real(path).c_str()) == 0 ? 0 : -errno;
}

int op_chmod(const char *path, mode_t mode, fuse_file_info *)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    return chmod(real(path).c_str(), mode) == 0 ? 0 : -errno;
}

int op_utimens(const char *path, const timespec tv[2], fuse_file_info *)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    return utimensat(AT_FDCWD, real(path).c_str(), tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

int op_statfs(const char *, struct statvfs *st)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (statvfs(fs.backing.c_str(), st) != 0)
        return -errno;
    if (fs.full)
        st->f_bfree = st->f_bavail = 0;
    return 0;
}

int op_access(const char *path, int mask)
{
    std::lock_guard<std::mutex> hold(fs_lock);
    if (is_control(path))
        return 0;
    return access(real(path).c_str(), mask) == 0 ? 0 : -errno;
}

void *op_init(fuse_conn_info *, fuse_config *cfg)
{
    // Every size and page comes from here, never from a stale cache.
    cfg->attr_timeout = 0;
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    return nullptr;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: faultfs BACKING MOUNTPOINT [FUSE options]\n");
        return 2;
    }
    char resolved[PATH_MAX];
    if (!realpath(argv[1], resolved)) {
        fprintf(stderr, "faultfs: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    fs.backing = resolved;
    fuse_operations ops{};
    ops.getattr = op_getattr;
    ops.readdir = op_readdir;
    ops.open = op_open;
    ops.create = op_create;
    ops.read = op_read;
    ops.write = op_write;
    ops.truncate = op_truncate;
    ops.fsync = op_fsync;
    ops.fallocate = op_fallocate;
    ops.unlink = op_unlink;
    ops.rename = op_rename;
    ops.mkdir = op_mkdir;
    ops.rmdir = op_rmdir;
    ops.chmod = op_chmod;
    ops.utimens = op_utimens;
    ops.statfs = op_statfs;
    ops.access = op_access;
    ops.init = op_init;
    // argv[1] is ours; FUSE sees the program name, the mountpoint and the rest.
    argv[1] = argv[0];
    return fuse_main(argc - 1, argv + 1, &ops, nullptr);
}
