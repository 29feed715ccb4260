#include "core/box/box.h"

#include <sched.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <new>

#include "proto/clock.h"

namespace
{

struct slot {
    std::atomic<uint64_t> seq{0}; // odd while the worker writes sample
    std::atomic<int64_t> pid{0};
    std::atomic<uint64_t> restarts{0};
    std::atomic<uint64_t> published_ms{0}; // monotonic (the same clock in every process); 0: never
    std::atomic<int> api_port{0};          // the worker's loopback API listener (api_forward.cc)
    hf_metrics_sample sample;
};

// A reader copies a slot again while it changes under it. If its count
// stays odd, the writer is off the core or died in the middle: the reader
// yields, and after stuck_tries takes the copy it has (each field then
// holds an old or a new value). It never tries more than max_tries.
const int stuck_tries = 1000, max_tries = 100000;

} // namespace

struct hf_box {
    size_t mapped_bytes;
    int workers;
    slot slots[];
};

hf_box *hf_box_create(int workers)
{
    size_t bytes = sizeof(hf_box) + sizeof(slot) * size_t(workers);
    void *mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return nullptr;
    auto *box = static_cast<hf_box *>(mem);
    box->mapped_bytes = bytes;
    box->workers = workers;
    for (int k = 0; k < workers; k++)
        new (&box->slots[k]) slot();
    return box;
}

void hf_box_free(hf_box *box)
{
    if (box)
        munmap(box, box->mapped_bytes);
}

int hf_box_workers(const hf_box *box)
{
    return box->workers;
}

void hf_box_started(hf_box *box, int k, pid_t pid, bool restarted)
{
    slot &s = box->slots[k];
    s.pid.store(pid);
    if (restarted)
        s.restarts.fetch_add(1);
}

void hf_box_exited(hf_box *box, int k)
{
    box->slots[k].pid.store(0);
    box->slots[k].api_port.store(0); // its listener went with it
}

void hf_box_publish(hf_box *box, int k, const hf_metrics_sample &sample)
{
    slot &s = box->slots[k];
    // Odd from here, even if a writer before this one died while odd.
    uint64_t writing = s.seq.load(std::memory_order_relaxed) | 1;
    s.seq.store(writing, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    memcpy(static_cast<void *>(&s.sample), &sample, sizeof sample);
    s.seq.store(writing + 1, std::memory_order_release);
    s.published_ms.store(hf_mono_ms());
}

void hf_box_set_api_port(hf_box *box, int k, int port)
{
    box->slots[k].api_port.store(port);
}

int hf_box_api_port(const hf_box *box, int k)
{
    return box->slots[k].api_port.load();
}

void hf_box_read(const hf_box *box, int k, hf_metrics_sample *sample, hf_worker_state *state)
{
    const slot &s = box->slots[k];
    uint64_t stuck_at = 0;
    for (int tries = 0, stuck = 0; tries < max_tries && stuck < stuck_tries; tries++) {
        uint64_t before = s.seq.load(std::memory_order_acquire);
        memcpy(static_cast<void *>(sample), &s.sample, sizeof *sample);
        std::atomic_thread_fence(std::memory_order_acquire);
        uint64_t after = s.seq.load(std::memory_order_relaxed);
        if (!(before & 1) && after == before)
            break;
        if (after == before) { // odd, and still the same writer
            stuck = before == stuck_at ? stuck + 1 : 1;
            stuck_at = before;
            sched_yield();
        }
    }
    state->pid = s.pid.load();
    state->restarts = s.restarts.load();
    uint64_t published = s.published_ms.load(), now = hf_mono_ms();
    state->report_age_ms = published ? (now > published ? now - published : 0) : UINT64_MAX;
}
