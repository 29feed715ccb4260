#include "modules/lmdb/lmdb_format.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "proto/whole_file.h"

namespace hf_lmdb
{

const int lmdb_format = 1;

namespace
{

const char *const format_name = "/format";

bool exists(const std::string &path)
{
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// Written whole or not at all.
bool write_format(const std::string &folder, int format, std::string *err)
{
    return hf_write_whole_file(folder + format_name, "handoff-lmdb " + std::to_string(format) + "\n", 0600, err);
}

} // namespace

bool format_of(const std::string &folder, int *format, std::string *err)
{
    std::string path = folder + format_name;
    FILE *f = fopen(path.c_str(), "r");
    if (!f) {
        *format = exists(folder + "/data.mdb") ? 0 : -1;
        return true;
    }
    int n = -1;
    bool ok = fscanf(f, "handoff-lmdb %d", &n) == 1 && n >= 0;
    fclose(f);
    if (!ok)
        *err = path + " does not say \"handoff-lmdb N\": it is not this store's, or it is damaged";
    *format = n;
    return ok;
}

bool formats_readable(const std::string &root, std::string *err)
{
    std::vector<std::string> folders = {root};
    if (DIR *dir = opendir(root.c_str())) {
        while (dirent *e = readdir(dir))
            if (strncmp(e->d_name, "worker-", 7) == 0)
                folders.push_back(root + "/" + e->d_name);
        closedir(dir);
    }
    for (const std::string &folder : folders) {
        int format = 0;
        if (!format_of(folder, &format, err))
            return false;
        if (format > lmdb_format) {
            *err = folder + " holds store format " + std::to_string(format) +
                   ", and this handoffd (" PACKAGE_VERSION ") reads formats up to " + std::to_string(lmdb_format) +
                   ": reading it would lose messages. Run the handoffd that wrote it, or a later one";
            return false;
        }
    }
    return true;
}

bool format_up(const std::string &folder, int was, void (*log)(const char *line, void *arg), void *log_arg,
               std::string *err)
{
    if (was == lmdb_format)
        return true;
    if (was > lmdb_format)
        return formats_readable(folder, err);
    if (was == 0) {
        // 0 -> 1: the layout is the same; 1 only says so.
        char line[256];
        snprintf(line, sizeof line, "%s: store format 0 (before format versions) -> 1: nothing to convert",
                 folder.c_str());
        log(line, log_arg);
    }
    return write_format(folder, lmdb_format, err);
}

} // namespace hf_lmdb
