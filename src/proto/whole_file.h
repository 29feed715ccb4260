// A small file written whole or not at all, for what must survive a
// crash as one piece (the LMDB store's format record, a device's key
// file): a new file beside it, synced, renamed over it. Inline: the
// modules that use it link no library of the daemon's.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

// False with *err ("cannot write PATH: why"); the old file stays then.
inline bool hf_write_whole_file(const std::string &path, std::string_view text, mode_t mode, std::string *err)
{
    std::string temp = path + ".new";
    int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    bool ok = fd >= 0 && write(fd, text.data(), text.size()) == ssize_t(text.size()) && fdatasync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok || rename(temp.c_str(), path.c_str()) != 0) {
        *err = "cannot write " + path + ": " + strerror(errno);
        unlink(temp.c_str());
        return false;
    }
    return true;
}
