// A thread that makes a store's commits durable off the reactor. The
// reactor commits (fast: pages into the kernel) and asks for a sync of
// everything committed up to a generation; the thread runs the sync (slow:
// fdatasync waits for the disk) as soon as it is asked, at most once per
// min_gap, and tells the reactor which generation it covered. So no
// connection waits while the disk works, and a SEND_ACK waits for one
// fsync, not for a timer tick.
#ifndef HANDOFF_MODULES_SYNCER_H
#define HANDOFF_MODULES_SYNCER_H

#include <cstdint>
#include <string>

struct event_base;
struct hf_syncer;

// Called on the syncer's thread; returns 0 or an error code.
typedef int (*hf_syncer_sync_fn)(void *arg);
// Called on the reactor: everything up to synced_gen has been synced;
// syncs covering generations up to failed_gen (0: none) failed, so what
// those generations hold may not be on disk.
typedef void (*hf_syncer_done_fn)(void *arg, uint64_t synced_gen, uint64_t failed_gen);

hf_syncer *hf_syncer_start(event_base *base, hf_syncer_sync_fn sync, hf_syncer_done_fn done, void *arg,
                           uint64_t min_gap_ms, std::string *err);
// Asks for a sync of everything committed up to gen (gens only grow).
void hf_syncer_request(hf_syncer *s, uint64_t gen);
// Stops and joins the thread; a sync it was running finishes first. What
// was asked and not yet synced is the caller's to sync.
void hf_syncer_stop(hf_syncer *s);

#endif
