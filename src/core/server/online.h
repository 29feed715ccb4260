// The devices online on this server, by account '\0' device, and what the
// server remembers of devices that left: what they acknowledged, and the
// message their connections keep ending on.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

struct hf_session;

// A message its device's connections ended on without acknowledging it.
struct hf_failed_delivery {
    uint64_t seq = 0;
    uint64_t times = 0;
    uint64_t last_ms = 0; // monotonic
};

struct hf_online {
    std::unordered_map<std::string, hf_session *> devices; // by device key
    std::unordered_map<std::string, uint32_t> per_account;
    // What devices that just went offline had acknowledged, and when they
    // left (monotonic ms): a store answers an enqueue only after its sync,
    // and the device may have been sent, acknowledged and gone by then.
    std::unordered_map<std::string, std::pair<uint64_t, uint64_t>> recent_acks;
    // Devices whose connections ended with the same message the oldest
    // unacknowledged, by device key (delivery.max_attempts).
    std::unordered_map<std::string, hf_failed_delivery> failed_deliveries;
};

// Key of the online table and store queues: account '\0' device.
std::string hf_device_key(std::string_view account, std::string_view device);

// Lists s (its key set); it goes on from what it acknowledged before, if
// it left a moment ago.
void hf_online_enter(hf_online *o, hf_session *s);

// Takes s off the table (unless a newer connection of the device replaced
// it there) and remembers what it acknowledged.
void hf_online_leave(hf_online *o, hf_session *s);

// The online session of a device on this server, or null.
hf_session *hf_online_find(hf_online *o, std::string_view account, std::string_view device);

// The highest seq the device acknowledged, online now or recently (0: none
// known).
uint64_t hf_online_acked_upto(hf_online *o, std::string_view account, std::string_view device);

// Forgets what devices that left more than a minute ago acknowledged, and
// deliveries that failed more than an hour ago.
void hf_online_prune(hf_online *o);
