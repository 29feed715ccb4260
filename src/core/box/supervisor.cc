#include "core/box/supervisor.h"

#include <event2/util.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/common/log.h"
#include "core/box/box.h"
#include "core/box/detach.h"
#include "core/allocator/allocation.h"
#include "core/box/rehome.h"
#include "proto/clock.h"
#include "proto/token.h"

namespace
{

// How long a starting worker may take to say it serves (LMDB opens its
// map, Redis answers) before the start is given up.
const int start_timeout_ms = 60000;
// A worker that dies within this long of its start is restarted after a
// delay that doubles each time, up to restart_delay_max_ms.
const uint64_t short_life_ms = 10000, restart_delay_max_ms = 5000;

struct worker {
    int index = 0;
    pid_t pid = -1; // -1: not running
    uint64_t started_ms = 0;
    uint64_t restart_delay_ms = 0;
    uint64_t restart_at_ms = 0; // monotonic; 0: no restart due
};

// No reactor here: the supervisor only waits for signals (sigtimedwait),
// and a libevent base would be inherited, half-alive, by every worker.
struct supervisor {
    hf_config cfg;
    int workers = 0;
    int allocator_fd = -1, metrics_fd = -1; // opened here, shared by every worker
    hf_box *box = nullptr;                  // the workers' samples and states, for /metrics and /healthz
    sigset_t signals;                       // blocked here, waited for; unblocked in each worker
    std::vector<worker> children;
    bool stopping = false;
    int report_fd = -1; // detached: the pipe the waiting parent reads to its end; no worker may keep it
    hf_worker_main worker_main = nullptr;
};

// host:port with port + k; "" stays "".
std::string shift_port(const std::string &address, int k)
{
    size_t colon = address.rfind(':');
    if (address.empty() || colon == std::string::npos)
        return address;
    return address.substr(0, colon + 1) + std::to_string(atoi(address.c_str() + colon + 1) + k);
}

// wss://host:port/path with port + k.
std::string shift_url_port(const std::string &url, int k)
{
    size_t host = url.find("://");
    size_t path = url.find('/', host == std::string::npos ? 0 : host + 3);
    if (host == std::string::npos || path == std::string::npos)
        return url;
    return url.substr(0, host + 3) + shift_port(url.substr(host + 3, path - host - 3), k) + url.substr(path);
}

// A listening TCP socket on address, inherited by every worker.
int listen_socket(const std::string &address, std::string *err)
{
    sockaddr_storage ss;
    int len = sizeof ss;
    if (evutil_parse_sockaddr_port(address.c_str(), reinterpret_cast<sockaddr *>(&ss), &len) != 0) {
        *err = "cannot parse listen address \"" + address + "\"; write host:port, e.g. 127.0.0.1:7400";
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, reinterpret_cast<sockaddr *>(&ss), socklen_t(len)) != 0 || listen(fd, 1024) != 0) {
        *err = "cannot listen on " + address + ": " + strerror(errno) + " (is another process using the port?)";
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

// In the child: one worker, until it stops. ready_fd (or -1) hears "" once
// it serves, or why it cannot.
[[noreturn]] void run_worker(supervisor *s, int k, int ready_fd, pid_t supervisor_pid)
{
    // A supervisor killed with -9 cannot tell its workers: the kernel
    // does, with a SIGTERM that drains them. (It may have died already.)
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != supervisor_pid)
        _exit(1);
    sigprocmask(SIG_UNBLOCK, &s->signals, nullptr);
    if (s->report_fd >= 0)
        close(s->report_fd); // the parent returns when the supervisor says so, not when every worker has gone
    hf_worker_start start;
    start.cfg = hf_worker_config(s->cfg, k, s->workers);
    start.allocator_fd = s->allocator_fd;
    start.metrics_fd = s->metrics_fd;
    start.box = s->box;
    start.ready_fd = ready_fd;
    _exit(s->worker_main(start));
}

// Forks worker w; -1 if fork failed. With ready_fd, the child reports on
// it; without, this is a restart.
pid_t spawn(supervisor *s, worker *w, int ready_fd)
{
    pid_t supervisor_pid = getpid();
    pid_t pid = fork();
    if (pid == 0)
        run_worker(s, w->index, ready_fd, supervisor_pid);
    if (pid > 0) {
        w->pid = pid;
        w->started_ms = hf_mono_ms();
        hf_box_started(s->box, w->index, pid, ready_fd < 0);
    }
    return pid;
}

// Starts the workers whose restart is due.
void restart_due(supervisor *s)
{
    uint64_t now = hf_mono_ms();
    for (worker &w : s->children) {
        if (w.pid > 0 || !w.restart_at_ms || w.restart_at_ms > now)
            continue;
        w.restart_at_ms = 0;
        if (spawn(s, &w, -1) < 0) {
            hf_log(HF_LOG_ERROR, "cannot fork worker %d: %s; trying again in %llu ms", w.index, strerror(errno),
                   (unsigned long long)restart_delay_max_ms);
            w.restart_at_ms = now + restart_delay_max_ms;
            continue;
        }
        hf_log(HF_LOG_INFO, "worker %d restarted as pid %ld", w.index, long(w.pid));
    }
}

// How long the loop may sleep: until the next restart, else a while.
timespec next_wait(const supervisor *s)
{
    uint64_t now = hf_mono_ms(), wait_ms = 60000;
    for (const worker &w : s->children)
        if (w.restart_at_ms)
            wait_ms = std::min(wait_ms, w.restart_at_ms > now ? w.restart_at_ms - now : 0);
    return timespec{time_t(wait_ms / 1000), long(wait_ms % 1000) * 1000000};
}

std::string exit_text(int status)
{
    if (WIFSIGNALED(status))
        return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    return "exited with status " + std::to_string(WEXITSTATUS(status));
}

// A worker is gone: while serving, it comes back (at once after a long
// life, later and later if it keeps dying young); while stopping, the
// supervisor waits for the rest.
void on_child_exit(supervisor *s, pid_t pid, int status)
{
    worker *w = nullptr;
    for (worker &c : s->children)
        if (c.pid == pid)
            w = &c;
    if (!w)
        return;
    w->pid = -1;
    hf_box_exited(s->box, w->index);
    if (s->stopping)
        return;
    uint64_t lived = hf_mono_ms() - w->started_ms;
    w->restart_delay_ms =
        lived >= short_life_ms ? 0 : std::min(restart_delay_max_ms, std::max<uint64_t>(100, w->restart_delay_ms * 2));
    hf_log(HF_LOG_ERROR, "worker %d (pid %ld) %s after %llu ms; restarting it in %llu ms", w->index, long(pid),
           exit_text(status).c_str(), (unsigned long long)lived, (unsigned long long)w->restart_delay_ms);
    w->restart_at_ms = hf_mono_ms() + w->restart_delay_ms;
}

void signal_all(supervisor *s, int sig)
{
    for (const worker &c : s->children)
        if (c.pid > 0)
            kill(c.pid, sig);
}

// SIGHUP goes on only if the file still loads: a broken edit is logged
// here once, not once per worker, and every worker keeps running as it was.
void reload(supervisor *s)
{
    hf_config fresh;
    std::string err;
    if (!hf_config_load(s->cfg.path.c_str(), &fresh, &err)) {
        hf_log(HF_LOG_ERROR, "reload refused, the workers keep the running config: %s", err.c_str());
        return;
    }
    hf_config_apply_reload(fresh, &s->cfg); // what a restarted worker starts with
    hf_log_set_level(hf_log_level_from_name(s->cfg.log_level.c_str()));
    signal_all(s, SIGHUP);
}

void on_signal(supervisor *s, int sig)
{
    if (sig == SIGCHLD) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            on_child_exit(s, pid, status);
    } else if (sig == SIGHUP) {
        reload(s);
    } else if (!s->stopping) {
        s->stopping = true;
        hf_log(HF_LOG_INFO, "stopping: every worker drains");
        signal_all(s, SIGTERM);
    }
}

bool any_running(const supervisor *s)
{
    for (const worker &w : s->children)
        if (w.pid > 0)
            return true;
    return false;
}

// Until every worker has stopped after a SIGTERM.
void supervise(supervisor *s)
{
    while (!s->stopping || any_running(s)) {
        timespec wait = next_wait(s);
        int sig = sigtimedwait(&s->signals, nullptr, &wait);
        if (sig > 0)
            on_signal(s, sig);
        if (!s->stopping)
            restart_due(s);
    }
}

// Starts every worker and waits until each says it serves. False and
// *err (the first worker's reason) if one cannot: the others are stopped.
bool start_all(supervisor *s, std::string *err)
{
    std::vector<int> ready(size_t(s->workers), -1);
    bool ok = true;
    s->children.resize(size_t(s->workers));
    for (int k = 0; k < s->workers && ok; k++) {
        worker *w = &s->children[size_t(k)];
        w->index = k;
        int pipe_fds[2];
        if (pipe2(pipe_fds, O_CLOEXEC) != 0 || spawn(s, w, pipe_fds[1]) < 0) {
            *err = std::string("cannot start worker ") + std::to_string(k) + ": " + strerror(errno);
            ok = false;
        } else {
            close(pipe_fds[1]);
            ready[size_t(k)] = pipe_fds[0];
            hf_log(HF_LOG_INFO, "worker %d started as pid %ld", k, long(w->pid));
        }
    }
    for (int k = 0; k < s->workers && ok; k++) {
        pollfd p{ready[size_t(k)], POLLIN, 0};
        char said[1024];
        ssize_t n = poll(&p, 1, start_timeout_ms) == 1 ? read(p.fd, said, sizeof said) : -1;
        if (n != 0) {
            *err = n > 0 ? std::string(said, size_t(n))
                         : "worker " + std::to_string(k) + " did not start within " +
                               std::to_string(start_timeout_ms / 1000) + " s";
            ok = false;
        }
    }
    for (int fd : ready)
        if (fd >= 0)
            close(fd);
    if (!ok) {
        signal_all(s, SIGKILL);
        for (worker &c : s->children)
            if (c.pid > 0)
                waitpid(c.pid, nullptr, 0);
    }
    return ok;
}

void close_shared(supervisor *s)
{
    for (int fd : {s->allocator_fd, s->metrics_fd})
        if (fd >= 0)
            close(fd);
    hf_box_free(s->box);
}

} // namespace

int hf_workers_wanted(const hf_config &cfg)
{
    if (cfg.workers > 0)
        return int(cfg.workers);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? int(cores) : 1;
}

hf_config hf_worker_config(const hf_config &cfg, int k, int workers)
{
    hf_config w = cfg;
    w.worker_index = k;
    w.worker_store_shared = hf_store_is_shared(cfg);
    w.worker_names = hf_allocation_worker_names(cfg);
    w.server_id = cfg.server_id + "-w" + std::to_string(k);
    for (int j = 0; j < workers; j++) {
        w.worker_addresses.push_back(shift_port(cfg.advertise, j));
        w.worker_websocket_urls.push_back(shift_url_port(cfg.websocket_advertise, j));
    }
    w.listen_device = shift_port(cfg.listen_device, k);
    w.advertise = w.worker_addresses[size_t(k)];
    w.listen_websocket = shift_port(cfg.listen_websocket, k);
    w.websocket_advertise = w.worker_websocket_urls[size_t(k)];
    // Worker 0 serves the API. With a shared store it reaches every
    // account itself; else it hands calls on to their workers.
    if (cfg.listen_api.empty() || w.worker_store_shared)
        w.worker_api_secret.clear();
    if (k != 0)
        w.listen_api.clear();
    if (hf_store_per_worker(w))
        hf_store_set_folder(&w, hf_store_worker_folder(hf_store_folder(cfg), k, workers));
    return w;
}

int hf_supervise(const hf_config &cfg, int workers, const hf_supervisor_options &options)
{
    supervisor s;
    s.cfg = cfg;
    s.worker_main = options.worker_main;
    // What proves an API call handed on comes from worker 0: only the box's
    // processes have it (in memory, from the fork).
    s.cfg.worker_api_secret = hf_random_hex(32);
    s.workers = workers;
    s.report_fd = options.report_fd;
    sigemptyset(&s.signals);
    for (int sig : {SIGCHLD, SIGHUP, SIGTERM, SIGINT})
        sigaddset(&s.signals, sig);
    sigprocmask(SIG_BLOCK, &s.signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    std::string err;
    bool ok = true;
    if (cfg.role != hf_role::server && (s.allocator_fd = listen_socket(cfg.listen_allocator, &err)) < 0)
        ok = false;
    if (ok && !cfg.metrics_listen.empty() && (s.metrics_fd = listen_socket(cfg.metrics_listen, &err)) < 0)
        ok = false;
    if (ok && !(s.box = hf_box_create(workers))) {
        err = std::string("cannot map the workers' shared metrics: ") + strerror(errno);
        ok = false;
    }
    // The workers' store folders go inside the configured one, laid out
    // for this many workers before any of them serves.
    ok = ok && hf_rehome(cfg, workers, &err) && start_all(&s, &err);
    if (ok && !options.pidfile.empty() && !hf_write_pidfile(options.pidfile)) {
        err = "cannot write pidfile " + options.pidfile + ": " + strerror(errno);
        s.stopping = true;
        signal_all(&s, SIGTERM);
        supervise(&s);
        ok = false;
    }
    if (!ok) {
        if (options.report_fd >= 0)
            hf_detach_failed(options.report_fd, err);
        else
            fprintf(stderr, "handoffd: %s\n", err.c_str());
        if (options.use_syslog)
            hf_log(HF_LOG_ERROR, "%s", err.c_str());
        close_shared(&s);
        return 1;
    }
    hf_log(HF_LOG_INFO, "handoffd %s: %d workers ready (devices on %s and the %d ports after it)", PACKAGE_VERSION,
           workers, cfg.listen_device.c_str(), workers - 1);
    hf_detach_ready(options.report_fd);
    s.report_fd = -1; // closed: a worker restarted later must not close what now has its number
    supervise(&s);
    hf_log(HF_LOG_INFO, "stopped: every worker has exited");
    if (!options.pidfile.empty())
        unlink(options.pidfile.c_str());
    close_shared(&s);
    return 0;
}
