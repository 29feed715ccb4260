#include "core/box/store_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/box/rehome.h"

namespace
{

// The pid the holder wrote, or "" when it has not yet.
std::string holder_of(int fd)
{
    char text[32] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    std::string pid(text, n > 0 ? size_t(n) : 0);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
        pid.pop_back();
    return pid;
}

} // namespace

bool hf_store_lock(const hf_config &cfg, std::string *err)
{
    if (!hf_store_per_worker(cfg))
        return true;
    std::string root = hf_store_folder(cfg), path = root + "/" + hf_store_lock_file;
    if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
        *err = "cannot create store.path " + root + ": " + strerror(errno);
        return false;
    }
    // Kept open for the life of the process; forked workers share it.
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        *err = "cannot open " + path + ": " + strerror(errno);
        return false;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        std::string pid = holder_of(fd);
        close(fd);
        if (e == EWOULDBLOCK)
            *err = "store.path " + root + " is in use by " + (pid.empty() ? "another process" : "pid " + pid) +
                   " (another handoffd on the same store); give each daemon a store.path of its own";
        else
            *err = "cannot lock " + path + ": " + strerror(e);
        return false;
    }
    // Written over the last holder's in place, one width always: a full
    // disk must not keep a daemon from taking its own lock.
    char pid[16];
    int len = snprintf(pid, sizeof pid, "%-14ld\n", long(getpid()));
    if (pwrite(fd, pid, size_t(len), 0) != len || ftruncate(fd, len) != 0) {
        *err = "cannot write " + path + ": " + strerror(errno);
        close(fd);
        return false;
    }
    return true;
}
