// Presence for stores that serve one server (memory, lmdb): which server
// holds a device is this one or none, kept in memory with when it came
// and when it last left, and the only server to notify or ask to cut a
// device is this one. A store struct using these has `host` and
// `presence` (an hf_local_presence) members; its ops table names
// local_presence_set<Store> and so on.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>

#include "handoff/module.h"

struct hf_local_device {
    std::string server_id; // empty while offline
    uint64_t since_ms = 0; // while online: when it came (unix ms)
    uint64_t last_seen_ms = 0;
};

struct hf_local_presence {
    std::unordered_map<std::string, hf_local_device> devices; // account|device
};

inline std::string hf_local_presence_key(const char *account, const char *device)
{
    return std::string(account) + "|" + device;
}

// Fills the presence part of a device's state (server, since, last seen);
// the pointers stay valid until presence changes.
inline void hf_local_presence_state(const hf_local_presence *p, const char *account, const char *device,
                                    hf_store_device_state *state)
{
    auto it = p->devices.find(hf_local_presence_key(account, device));
    if (it == p->devices.end())
        return;
    const hf_local_device &d = it->second;
    state->server_id = d.server_id.empty() ? nullptr : d.server_id.c_str();
    state->connected_since_ms = d.since_ms;
    state->last_seen_ms = d.last_seen_ms;
}

// Every periodic refresh sets presence again: "since" stays that of the
// first.
template <typename Store>
void local_presence_set(void *store, const char *account, const char *device, const char *server_id, uint64_t,
                        hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<Store *>(store);
    hf_local_device &d = s->presence.devices[hf_local_presence_key(account, device)];
    if (d.server_id != server_id) {
        d.server_id = server_id;
        d.since_ms = s->host->now_ms(s->host->host);
    }
    cb(arg, HF_STORE_OK);
}

template <typename Store>
void local_presence_clear(void *store, const char *account, const char *device, const char *server_id,
                          hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<Store *>(store);
    auto it = s->presence.devices.find(hf_local_presence_key(account, device));
    if (it != s->presence.devices.end() && it->second.server_id == server_id) {
        it->second.server_id.clear();
        it->second.since_ms = 0;
        it->second.last_seen_ms = s->host->now_ms(s->host->host);
    }
    cb(arg, HF_STORE_OK);
}

template <typename Store>
void local_presence_lookup(void *store, const char *account, const char *device, hf_store_presence_cb cb, void *arg)
{
    hf_store_device_state state{};
    hf_local_presence_state(&static_cast<Store *>(store)->presence, account, device, &state);
    cb(arg, HF_STORE_OK, state.server_id);
}

template <typename Store>
void local_notify(void *store, const char *, const char *account, const char *device)
{
    auto *s = static_cast<Store *>(store);
    s->host->data_ready(s->host->host, account, device);
}

template <typename Store>
void local_kick(void *store, const char *, const char *account, const char *device, int code)
{
    auto *s = static_cast<Store *>(store);
    s->host->kick(s->host->host, account, device, code);
}
