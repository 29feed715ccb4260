// What the application was shown and what it acknowledged, so that a copy
// of an acknowledged message is not shown again. Copies happen because
// delivery is at-least-once: an acknowledgement lost with a connection, or
// a second server sending a message during a move (GOAWAY) before the
// first server's acknowledgement reached the shared store. Messages are
// known by (sending device, id), which the sender keeps across resends.
// Pure code; the client sends the acknowledgements it computes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_set>

// The (from, id) keys of the newest acknowledged messages, at most
// `capacity`; the oldest is forgotten first.
struct hf_acked_ids {
    size_t capacity = 4096;
    std::unordered_set<std::string> keys;
    std::deque<std::string> order; // oldest first
};

// One server link's DELIVERs the application has not acknowledged yet,
// by seq (seqs belong to the server that sent them).
struct hf_link_deliveries {
    struct entry {
        std::string key;
        bool hidden; // a copy of an acknowledged message, not shown
    };
    std::map<uint64_t, entry> by_seq;
};

// A DELIVER came on a link. Returns true when it is a copy of a message
// the application acknowledged: it is not to be shown. *ack_upto is then
// the seq to acknowledge at once, or 0 when a message shown before it
// still waits for the application's acknowledgement (which will cover the
// copy too).
bool hf_deliveries_arrived(hf_acked_ids *acked, hf_link_deliveries *link, const char *from, uint64_t id, uint64_t seq,
                           uint64_t *ack_upto);

// The application acknowledges every message up to seq on this link.
// Remembers their keys; returns the seq to send, which also covers the
// hidden copies that directly follow.
uint64_t hf_deliveries_acked(hf_acked_ids *acked, hf_link_deliveries *link, uint64_t seq);
