#include "modules/lmdb/syncer.h"

#include "proto/clock.h"

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

using sync_clock = std::chrono::steady_clock;

struct hf_syncer {
    hf_syncer_fns fns;
    std::chrono::milliseconds min_gap;
    // The reactor's side: only the reactor touches these.
    bool pending = false; // asked since the last commit
    bool urgent = false;  // and one of those asked without the gap
    bool running = false; // the thread has a sync to do or is doing it
    sync_clock::time_point last_start;
    event *gap_timer = nullptr;
    int wake_fd = -1; // eventfd: the thread tells the reactor a sync ended
    event *wake_event = nullptr;
    // The thread's side, shared under mu.
    std::thread thread;
    std::mutex mu;
    std::condition_variable asked;
    std::condition_variable idle; // a sync ended
    uint64_t wanted = 0, synced = 0, failed = 0;
    bool stopping = false;
};

namespace
{

void run(hf_syncer *s)
{
    std::unique_lock<std::mutex> lock(s->mu);
    for (;;) {
        s->asked.wait(lock, [s] { return s->stopping || s->wanted > s->synced; });
        if (s->stopping)
            return;
        uint64_t gen = s->wanted;
        lock.unlock();
        int rc = s->fns.sync(s->fns.arg);
        lock.lock();
        s->synced = gen;
        if (rc != 0)
            s->failed = gen;
        s->idle.notify_all();
        uint64_t one = 1;
        // Cannot fail short of a full counter, which a read on the reactor empties.
        (void)!write(s->wake_fd, &one, sizeof one);
    }
}

// On the reactor: starts a sync if one is wanted, none runs and the gap
// has passed; otherwise waits for whichever of those is missing.
void maybe_start(hf_syncer *s)
{
    if (!s->pending || s->running)
        return;
    sync_clock::time_point now = sync_clock::now(), due = s->urgent ? s->last_start : s->last_start + s->min_gap;
    if (now < due) {
        if (!evtimer_pending(s->gap_timer, nullptr)) {
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(due - now).count();
            timeval wait = hf_timeval_us(uint64_t(us));
            evtimer_add(s->gap_timer, &wait);
        }
        return;
    }
    s->pending = s->urgent = false;
    uint64_t gen = s->fns.commit(s->fns.arg);
    if (gen == 0)
        return;
    s->running = true;
    s->last_start = now;
    std::lock_guard<std::mutex> lock(s->mu);
    s->wanted = gen;
    s->asked.notify_one();
}

void on_gap_passed(evutil_socket_t, short, void *arg)
{
    maybe_start(static_cast<hf_syncer *>(arg));
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
    s->running = false;
    s->fns.done(s->fns.arg, synced, failed);
    maybe_start(s);
}

// What start made, once the thread is gone (or never ran).
void release(hf_syncer *s)
{
    event_free(s->gap_timer);
    event_free(s->wake_event);
    close(s->wake_fd);
    delete s;
}

} // namespace

hf_syncer *hf_syncer_start(event_base *base, const hf_syncer_fns &fns, uint64_t min_gap_ms, std::string *err)
{
    auto *s = new hf_syncer;
    s->fns = fns;
    s->min_gap = std::chrono::milliseconds(min_gap_ms);
    s->last_start = sync_clock::now() - s->min_gap; // the first sync goes at once
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        *err = std::string("cannot create the sync thread's eventfd: ") + strerror(errno);
        delete s;
        return nullptr;
    }
    s->wake_event = event_new(base, s->wake_fd, EV_READ | EV_PERSIST, on_wake, s);
    event_add(s->wake_event, nullptr);
    s->gap_timer = evtimer_new(base, on_gap_passed, s);
    try {
        s->thread = std::thread(run, s);
    } catch (const std::system_error &e) {
        *err = std::string("cannot start the sync thread: ") + e.what();
        release(s);
        return nullptr;
    }
    return s;
}

void hf_syncer_request(hf_syncer *s, bool urgent)
{
    s->pending = true;
    s->urgent = s->urgent || urgent;
    maybe_start(s);
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

void hf_syncer_wait(hf_syncer *s)
{
    std::unique_lock<std::mutex> lock(s->mu);
    s->idle.wait(lock, [s] { return s->synced >= s->wanted; });
}
