// What every enqueue's callback argument is (or derives from): the
// store's enqueue_applied: a message is in the queue and fetches see it
// (hf_host_api.enqueue_applied) goes to `applied`, whoever enqueued. It
// returns whether that enqueuer waits for the durable completion, so the
// store should sync without delay. Pass the enqueue this base, never the
// derived struct, and cast back from it.
#pragma once
#include <cstdint>

struct hf_enqueue_arg {
    bool (*applied)(hf_enqueue_arg *self, uint64_t seq);
};
