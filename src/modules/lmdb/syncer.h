// A thread that makes a store's commits durable off the reactor. The
// store keeps its writes in an open transaction and asks for a sync; when
// no sync is running and min_gap has passed since the last one began, the
// syncer has the store commit (on the reactor: fast, pages into the
// kernel) and the thread sync (slow: fdatasync waits for the disk), then
// tells the reactor which generation that covered. So no connection
// waits while the disk works, a SEND_ACK waits for one fsync, and one
// commit per sync writes each page once however many ticks changed it.
#ifndef HANDOFF_MODULES_SYNCER_H
#define HANDOFF_MODULES_SYNCER_H

#include <cstdint>
#include <string>

struct event_base;
struct hf_syncer;

// Called on the reactor when a sync is about to start: commits what is
// waiting and returns its generation (they only grow), or 0 when there is
// nothing to sync (a failed commit, answered by the store itself).
typedef uint64_t (*hf_syncer_commit_fn)(void *arg);
// Called on the syncer's thread; returns 0 or an error code.
typedef int (*hf_syncer_sync_fn)(void *arg);
// Called on the reactor: everything up to synced_gen has been synced;
// syncs covering generations up to failed_gen (0: none) failed, so what
// those generations hold may not be on disk.
typedef void (*hf_syncer_done_fn)(void *arg, uint64_t synced_gen, uint64_t failed_gen);

struct hf_syncer_fns {
    hf_syncer_commit_fn commit;
    hf_syncer_sync_fn sync;
    hf_syncer_done_fn done;
    void *arg;
};

hf_syncer *hf_syncer_start(event_base *base, const hf_syncer_fns &fns, uint64_t min_gap_ms, std::string *err);
// There are writes waiting: commit and sync them as soon as the syncer is
// free and the gap has passed (at once, from inside this call, if so).
// Urgent writes (someone waits for them to be durable) skip the gap: they
// wait only for a sync that is running.
void hf_syncer_request(hf_syncer *s, bool urgent);
// Blocks until no sync is running (one under way finishes; its done
// still comes on the reactor as usual). For a commit that must not start
// while another is unsynced.
void hf_syncer_wait(hf_syncer *s);
// Stops and joins the thread; a sync it was running finishes first. What
// was not yet committed and synced is the caller's to commit and sync.
void hf_syncer_stop(hf_syncer *s);

#endif
