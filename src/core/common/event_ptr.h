// Owning pointers for libevent objects.
#pragma once
#include <event2/event.h>

#include <memory>

struct hf_event_deleter {
    void operator()(event *e) const { event_free(e); }
};
using hf_event_ptr = std::unique_ptr<event, hf_event_deleter>;
