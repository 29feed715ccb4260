#include "core/box/rehome.h"

#include <dirent.h>
#include <event2/event.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "core/allocator/allocation.h"
#include "core/allocator/rendezvous.h"
#include "core/common/log.h"
#include "core/common/module_loader.h"
#include "proto/clock.h"

const char *const hf_store_lock_file = "handoffd.lock";

namespace
{

const char *const layout_file = "workers";
// The layout file's format: "handoff-layout 1 workers N names W", W the
// workers' names in the rendezvous (hf_allocation_worker_names; "w" when
// not written). Format 0, from before versions, was the count alone.
const int layout_format = 1;
const uint32_t page_size = 256; // devices asked for at a time

// The daemon's own files in store.path, which are no store's.
bool daemon_file(const std::string &name)
{
    return name == layout_file || name == std::string(layout_file) + ".new" || name == hf_store_lock_file;
}

// The store's files in folder: every regular file but the daemon's own.
std::vector<std::string> store_files(const std::string &folder)
{
    std::vector<std::string> files;
    if (DIR *dir = opendir(folder.c_str())) {
        while (dirent *e = readdir(dir)) {
            struct stat st;
            std::string path = folder + "/" + e->d_name;
            if (!daemon_file(e->d_name) && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
                files.push_back(path);
        }
        closedir(dir);
    }
    return files;
}

bool has_environment(const std::string &folder)
{
    return !store_files(folder).empty();
}

struct layout {
    int format = layout_format; // of the file; 0 before versions
    int workers = -1;           // the count the folders were laid out for; -1 when not recorded
    std::string names = "w";    // what the workers were named in the rendezvous
};

layout recorded_layout(const std::string &root)
{
    layout l;
    FILE *f = fopen((root + "/" + layout_file).c_str(), "r");
    if (!f)
        return l;
    char word[32];
    if (fscanf(f, "%31s", word) == 1 && isdigit(static_cast<unsigned char>(word[0]))) {
        l.format = 0;
        l.workers = atoi(word);
    } else if (strcmp(word, "handoff-layout") != 0 || fscanf(f, "%d workers %d", &l.format, &l.workers) != 2) {
        l.workers = -1; // unreadable: laid out again, as with no record
    } else if (char names[80]; fscanf(f, " names %79s", names) == 1) {
        l.names = names;
    }
    fclose(f);
    return l;
}

bool record_layout(const std::string &root, int workers, const std::string &names, std::string *err)
{
    std::string path = root + "/" + layout_file, temp = path + ".new";
    FILE *f = fopen(temp.c_str(), "w");
    bool ok = f && fprintf(f, "handoff-layout %d workers %d names %s\n", layout_format, workers, names.c_str()) > 0 &&
              fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(temp.c_str(), path.c_str()) != 0) {
        *err = "cannot write " + path + ": " + strerror(errno);
        unlink(temp.c_str());
        return false;
    }
    return true;
}

// The folders under root that hold an environment: root's own, and each
// worker-k's.
std::vector<std::string> environments_on_disk(const std::string &root)
{
    std::vector<std::string> found;
    if (has_environment(root))
        found.push_back(root);
    if (DIR *dir = opendir(root.c_str())) {
        while (dirent *e = readdir(dir)) {
            int k;
            char rest;
            if (sscanf(e->d_name, "worker-%d%c", &k, &rest) == 1 && k >= 0 && has_environment(root + "/" + e->d_name))
                found.push_back(root + "/" + e->d_name);
        }
        closedir(dir);
    }
    return found;
}

// Whether folder is one of the layout's for workers.
bool in_layout(const std::string &root, const std::string &folder, int workers)
{
    for (int k = 0; k < workers; k++)
        if (hf_store_worker_folder(root, k, workers) == folder)
            return true;
    return false;
}

struct mover;
event_base *host_event_base(void *host);

uint64_t host_now_ms(void *)
{
    return hf_wall_ms();
}

// Nothing is connected while the store is laid out: what a store tells
// the host of devices goes nowhere, and a waiting write is synced at once.
void host_data_ready(void *, const char *, const char *) {}
void host_kick(void *, const char *, const char *, int) {}
void host_presence_changed(void *, const char *, const char *, int) {}
int host_enqueue_applied(void *, void *, uint64_t)
{
    return 1;
}

struct environment {
    hf_config cfg; // its values' strings are cfg's
    std::vector<hf_setting_value> values;
    void *store = nullptr;
};

struct mover {
    const hf_config *cfg = nullptr;
    event_base *base = nullptr;
    hf_host_api host{};
    hf_loaded_module_ptr module;
    const hf_store_ops *ops = nullptr;
    std::map<std::string, std::unique_ptr<environment>> open; // by folder
    uint64_t devices_moved = 0, messages_moved = 0, devices_left = 0;
    std::string fatal; // a store could not go on (hf_host_api.fatal): why
};

event_base *host_event_base(void *host)
{
    return static_cast<mover *>(host)->base;
}

// A failed sync while moving: nothing more is moved, and the start fails
// (what the disk holds is read again at the next one).
void host_fatal(void *host, const char *module, const char *why)
{
    auto *m = static_cast<mover *>(host);
    if (m->fatal.empty())
        m->fatal = std::string(module) + ": " + why;
}

// Runs the loop until *done: a store may answer at once or later.
void wait_for(mover *m, const bool *done)
{
    while (!*done)
        event_base_loop(m->base, EVLOOP_ONCE);
}

environment *environment_of(mover *m, const std::string &folder, std::string *err)
{
    if (auto it = m->open.find(folder); it != m->open.end())
        return it->second.get();
    auto env = std::make_unique<environment>();
    env->cfg = *m->cfg;
    hf_store_set_folder(&env->cfg, folder);
    if (!hf_config_apply_module_settings(&env->cfg, &env->cfg.store, &m->module->info, &env->values, err))
        return nullptr;
    hf_store_params params = hf_store_params_of(env->cfg);
    char module_err[256] = "";
    if (m->ops->open(&m->host, &params, env->values.data(), &env->store, module_err, sizeof module_err) != 0) {
        *err = "cannot open the store in " + folder + " to move its accounts: " + module_err;
        return nullptr;
    }
    return (m->open[folder] = std::move(env)).get();
}

struct device_page {
    bool done = false;
    int status = 0;
    std::vector<std::pair<std::string, std::string>> devices;
};

void on_page(void *arg, int status, const char *const *accounts, const char *const *devices, size_t count)
{
    auto *page = static_cast<device_page *>(arg);
    page->status = status;
    for (size_t i = 0; i < count; i++)
        page->devices.emplace_back(accounts[i], devices[i]);
    page->done = true;
}

struct call {
    bool done = false;
    int status = 0;
    uint64_t messages = 0;
};

void on_moved(void *arg, int status)
{
    auto *c = static_cast<call *>(arg);
    c->status = status;
    c->done = true;
}

void on_state(void *arg, int status, const hf_store_device_state *state)
{
    auto *c = static_cast<call *>(arg);
    c->messages = status == HF_STORE_OK && state ? state->queue_messages : 0;
    c->done = true;
}

void move_one(mover *m, environment *from, environment *into, const std::string &account, const std::string &device)
{
    call state;
    if (m->ops->device_state) {
        m->ops->device_state(from->store, account.c_str(), device.c_str(), on_state, &state);
        wait_for(m, &state.done);
    }
    call moved;
    m->ops->move_device(from->store, into->store, account.c_str(), device.c_str(), on_moved, &moved);
    wait_for(m, &moved.done);
    if (moved.status != HF_STORE_OK) {
        std::string why = moved.status == HF_STORE_FULL ? "it is full (store.map_size less store.reserve, or the disk)"
                                                        : "status " + std::to_string(moved.status);
        hf_log(HF_LOG_ERROR, "store: cannot move %s/%s to %s: %s; it stays where it is", account.c_str(),
               device.c_str(), hf_store_folder(into->cfg).c_str(), why.c_str());
        m->devices_left++;
        return;
    }
    m->devices_moved++;
    m->messages_moved += state.messages;
}

// Every device of folder whose account another folder holds, moved there;
// *emptied when nothing is left in it. False and *err when a store
// cannot be opened or listed.
bool move_out_of(mover *m, const std::string &root, const std::string &folder, int workers, const std::string &names,
                 bool *emptied, std::string *err)
{
    environment *from = environment_of(m, folder, err);
    if (!from)
        return false;
    std::string after_account, after_device;
    uint64_t left_before = m->devices_left;
    bool anything_stays = false;
    for (;;) {
        device_page page;
        m->ops->each_device(from->store, after_account.c_str(), after_device.c_str(), page_size, on_page, &page);
        wait_for(m, &page.done);
        if (page.status != HF_STORE_OK) {
            *err =
                "cannot list the devices of the store in " + folder + " (status " + std::to_string(page.status) + ")";
            return false;
        }
        for (const auto &[account, device] : page.devices) {
            std::string home = hf_store_worker_folder(root, hf_rendezvous_worker(account, names, workers), workers);
            if (home == folder) {
                anything_stays = true;
                continue;
            }
            environment *into = environment_of(m, home, err);
            if (!into)
                return false;
            move_one(m, from, into, account, device);
        }
        if (page.devices.size() < page_size)
            break;
        after_account = page.devices.back().first;
        after_device = page.devices.back().second;
    }
    *emptied = !anything_stays && m->devices_left == left_before;
    return true;
}

void remove_environment(const std::string &root, const std::string &folder)
{
    for (const std::string &file : store_files(folder))
        if (unlink(file.c_str()) != 0 && errno != ENOENT)
            hf_log(HF_LOG_WARNING, "store: cannot remove %s: %s", file.c_str(), strerror(errno));
    if (folder != root)
        rmdir(folder.c_str());
}

void close_all(mover *m)
{
    for (auto &[folder, env] : m->open)
        m->ops->close(env->store);
    m->open.clear();
}

} // namespace

std::string hf_store_folder(const hf_config &cfg)
{
    return cfg.store_folder;
}

void hf_store_set_folder(hf_config *cfg, const std::string &folder)
{
    cfg->store_folder = folder;
    for (hf_raw_setting &s : cfg->store.raw)
        if (s.name == "path") {
            s.text = folder;
            return;
        }
    cfg->store.raw.push_back({"path", folder, true, 0});
}

bool hf_store_layout_check(const hf_config &cfg, std::string *err)
{
    if (!hf_store_per_worker(cfg))
        return true;
    std::string root = hf_store_folder(cfg);
    layout recorded = recorded_layout(root);
    if (recorded.format <= layout_format)
        return true;
    *err = root + "/" + layout_file + " is in layout format " + std::to_string(recorded.format) +
           ", and this handoffd (" + PACKAGE_VERSION + ") reads formats up to " + std::to_string(layout_format) +
           ": laying the store out again would lose messages. Run the handoffd that wrote it, or a later one";
    return false;
}

std::string hf_store_worker_folder(const std::string &root, int k, int workers)
{
    return workers <= 1 ? root : root + "/worker-" + std::to_string(k);
}

bool hf_rehome(const hf_config &cfg, int workers, std::string *err)
{
    if (!hf_store_per_worker(cfg))
        return true;
    std::string root = hf_store_folder(cfg);
    layout recorded = recorded_layout(root);
    int was = recorded.workers;
    std::string names = hf_allocation_worker_names(cfg);
    if (recorded.format == 0) {
        hf_log(HF_LOG_INFO, "store: layout format 0 (before format versions) -> %d: the same count, recorded again",
               layout_format);
        return record_layout(root, was, recorded.names, err) && hf_rehome(cfg, workers, err);
    }
    if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
        *err = "cannot create store.path " + root + ": " + strerror(errno);
        return false;
    }
    std::vector<std::string> folders = environments_on_disk(root);
    // Laid out for this count and these names already, the layout's folders
    // hold their own accounts only; a folder outside it (left by a move
    // that failed, or put back by hand) is still looked through, every
    // start.
    bool laid_out = was == workers && (recorded.names == names || workers == 1);
    if (laid_out)
        std::erase_if(folders, [&](const std::string &f) { return in_layout(root, f, workers); });
    if (laid_out && folders.empty())
        return true;
    uint64_t started_ms = hf_mono_ms();
    mover m;
    m.cfg = &cfg;
    m.base = event_base_new();
    m.host = {HF_MODULE_ABI_VERSION, &m,        hf_module_log,         host_event_base, host_now_ms, host_data_ready,
              host_enqueue_applied,  host_kick, host_presence_changed, host_fatal};
    bool ok = m.base != nullptr;
    if (!ok)
        *err = "cannot create an event loop to move the store's accounts";
    if (ok && !folders.empty()) {
        m.module = hf_module_load(&cfg, &m.host, "store_", HF_MODULE_STORE, cfg.store.module, err);
        m.ops = m.module ? static_cast<const hf_store_ops *>(m.module->info.ops) : nullptr;
        ok = m.ops != nullptr;
    }
    std::vector<std::string> emptied;
    for (const std::string &folder : folders) {
        if (!ok)
            break;
        if (workers == 1 && folder == root)
            continue; // one folder holds every account: nothing to look at
        bool empty = false;
        ok = move_out_of(&m, root, folder, workers, names, &empty, err);
        if (!m.fatal.empty()) {
            *err = m.fatal;
            ok = false;
        }
        if (ok && empty && !in_layout(root, folder, workers))
            emptied.push_back(folder);
    }
    if (m.ops)
        close_all(&m);
    if (m.base)
        event_base_free(m.base);
    if (!ok)
        return false;
    for (const std::string &folder : emptied)
        remove_environment(root, folder);
    if (m.devices_moved || m.devices_left)
        hf_log(HF_LOG_INFO,
               "store: laid out for %d workers (was %s): moved %llu devices with %llu queued messages in %.1f s%s",
               workers, was < 0 ? "not recorded" : std::to_string(was).c_str(), (unsigned long long)m.devices_moved,
               (unsigned long long)m.messages_moved, (hf_mono_ms() - started_ms) / 1000.0,
               m.devices_left ? "; some could not move, see above" : "");
    if (m.devices_left) {
        // Not recorded, and nothing served: an account whose devices are in
        // two folders would be served without some of them (their queues,
        // their revocations). The next start tries them again.
        *err = std::to_string(m.devices_left) +
               " devices could not move to their folder for workers = " + std::to_string(workers) +
               " (the log says why); none is served until every account is in one " +
               "folder: free disk space or raise store.map_size and start again, or start with workers = " +
               (was < 0 ? std::string("its former count") : std::to_string(was)) + " to move them back";
        return false;
    }
    return record_layout(root, workers, names, err);
}
