#include "modules/syncer.h"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

struct hf_syncer {
    hf_syncer_sync_fn sync;
    hf_syncer_done_fn done;
    void *arg;
    std::chrono::milliseconds min_gap;
    int wake_fd = -1; // eventfd: the thread tells the reactor a sync ended
    event *wake_event = nullptr;
    std::thread thread;
    std::mutex mu; // guards what follows
    std::condition_variable asked;
    uint64_t wanted = 0, synced = 0, failed = 0;
    bool stopping = false;
};

namespace
{

void run(hf_syncer *s)
{
    using clock = std::chrono::steady_clock;
    clock::time_point last = clock::now() - s->min_gap;
    std::unique_lock<std::mutex> lock(s->mu);
    for (;;) {
        s->asked.wait(lock, [s] { return s->stopping || s->wanted > s->synced; });
        if (s->stopping)
            return;
        // Waiting out the gap lets more commits join this sync.
        s->asked.wait_until(lock, last + s->min_gap, [s] { return s->stopping; });
        if (s->stopping)
            return;
        uint64_t gen = s->wanted;
        lock.unlock();
        last = clock::now();
        int rc = s->sync(s->arg);
        lock.lock();
        s->synced = gen;
        if (rc != 0)
            s->failed = gen;
        uint64_t one = 1;
        // Cannot fail short of a full counter, which a read on the reactor empties.
        (void)!write(s->wake_fd, &one, sizeof one);
    }
}

void on_wake(evutil_socket_t fd, short, void *arg)
{
    auto *s = static_cast<hf_syncer *>(arg);
    uint64_t count;
    (void)!read(fd, &count, sizeof count);
    uint64_t synced, failed;
    {
        std::lock_guard<std::mutex> lock(s->mu);
        synced = s->synced;
        failed = s->failed;
    }
    s->done(s->arg, synced, failed);
}

// What start made, once the thread is gone (or never ran).
void release(hf_syncer *s)
{
    event_free(s->wake_event);
    close(s->wake_fd);
    delete s;
}

} // namespace

hf_syncer *hf_syncer_start(event_base *base, hf_syncer_sync_fn sync, hf_syncer_done_fn done, void *arg,
                           uint64_t min_gap_ms, std::string *err)
{
    auto *s = new hf_syncer;
    s->sync = sync;
    s->done = done;
    s->arg = arg;
    s->min_gap = std::chrono::milliseconds(min_gap_ms);
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        *err = std::string("cannot create the sync thread's eventfd: ") + strerror(errno);
        delete s;
        return nullptr;
    }
    s->wake_event = event_new(base, s->wake_fd, EV_READ | EV_PERSIST, on_wake, s);
    event_add(s->wake_event, nullptr);
    try {
        s->thread = std::thread(run, s);
    } catch (const std::system_error &e) {
        *err = std::string("cannot start the sync thread: ") + e.what();
        release(s);
        return nullptr;
    }
    return s;
}

void hf_syncer_request(hf_syncer *s, uint64_t gen)
{
    std::lock_guard<std::mutex> lock(s->mu);
    if (gen > s->wanted) {
        s->wanted = gen;
        s->asked.notify_one();
    }
}

void hf_syncer_stop(hf_syncer *s)
{
    {
        std::lock_guard<std::mutex> lock(s->mu);
        s->stopping = true;
        s->asked.notify_one();
    }
    s->thread.join();
    release(s);
}
