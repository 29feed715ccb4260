#include "modules/lmdb/lmdb_watchdog.h"

#include <algorithm>
#include <cstdio>

namespace hf_lmdb
{

namespace
{

uint64_t now_ms(const lmdb_store *s)
{
    return s->host->now_ms(s->host->host);
}

uint64_t sync_running_ms(const lmdb_store *s)
{
    return s->sync_began_ms ? now_ms(s) - s->sync_began_ms : 0;
}

void stall(lmdb_store *s)
{
    s->stalled = true;
    s->host->log(s->host->host, HF_LOG_ERROR, "store_lmdb",
                 "a sync (fdatasync of data.mdb) has run %llu ms, past store.sync_timeout: the disk stalls; messages "
                 "are answered store_unavailable and /readyz says not ready until it ends; check the disk (dmesg, "
                 "iostat)",
                 (unsigned long long)sync_running_ms(s));
    refuse_enqueues(&s->group_writes);
    for (auto &gen : s->unsynced)
        refuse_enqueues(&gen.second);
}

void look(evutil_socket_t, short, void *arg)
{
    auto *s = static_cast<lmdb_store *>(arg);
    if (!s->stalled && !s->failed && sync_running_ms(s) >= s->sync_timeout_ms)
        stall(s);
}

} // namespace

bool watchdog_start(lmdb_store *s, event_base *base)
{
    s->watchdog = event_new(base, -1, EV_PERSIST, look, s);
    if (!s->watchdog)
        return false;
    // Looks a few times within the timeout: a stall is seen within a
    // quarter of it (and within 250 ms at most) after it passes.
    uint64_t every_ms = std::min<uint64_t>(std::max<uint64_t>(s->sync_timeout_ms / 4, 10), 250);
    timeval every = {time_t(every_ms / 1000), suseconds_t(every_ms % 1000 * 1000)};
    event_add(s->watchdog, &every);
    return true;
}

void watchdog_stop(lmdb_store *s)
{
    if (s->watchdog)
        event_free(s->watchdog);
    s->watchdog = nullptr;
}

void watchdog_sync_began(lmdb_store *s)
{
    s->sync_began_ms = now_ms(s);
}

void watchdog_sync_ended(lmdb_store *s)
{
    if (s->stalled)
        s->host->log(s->host->host, HF_LOG_INFO, "store_lmdb",
                     "the sync that stalled ended after %llu ms; messages are taken again",
                     (unsigned long long)sync_running_ms(s));
    s->stalled = false;
    s->sync_began_ms = 0;
}

void refuse_enqueues(std::vector<pending_write> *writes)
{
    std::vector<pending_write> refused, kept;
    for (pending_write &w : *writes)
        (w.enqueue ? refused : kept).push_back(std::move(w));
    writes->swap(kept);
    for (pending_write &w : refused)
        w.done(HF_STORE_UNAVAILABLE);
}

int watchdog_health(void *store, char *why, size_t why_len)
{
    auto *s = static_cast<lmdb_store *>(store);
    if (s->failed) {
        snprintf(why, why_len, "the disk failed (a sync or commit); the daemon is stopping");
        return -1;
    }
    if (s->stalled || (s->sync_began_ms && sync_running_ms(s) >= s->sync_timeout_ms)) {
        snprintf(why, why_len, "a sync has run %llu ms, past store.sync_timeout (%llu ms): the disk stalls",
                 (unsigned long long)sync_running_ms(s), (unsigned long long)s->sync_timeout_ms);
        return -1;
    }
    return 0;
}

} // namespace hf_lmdb
