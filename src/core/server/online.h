// The devices online on this server, by account '\0' device, and what the
// server remembers of devices that left: what they acknowledged.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

struct hf_session;

struct hf_online {
    std::unordered_map<std::string, hf_session *> devices; // by device key
    std::unordered_map<std::string, uint32_t> per_account;
    // What devices that just went offline had acknowledged, and when they
    // left (monotonic ms): a store answers an enqueue only after its sync,
    // and the device may have been sent, acknowledged and gone by then.
    std::unordered_map<std::string, std::pair<uint64_t, uint64_t>> recent_acks;
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

// Forgets what devices that left more than a minute ago acknowledged.
void hf_online_prune(hf_online *o);
