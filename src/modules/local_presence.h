// Presence for stores that serve one server (memory, lmdb): which server
// holds a device is this one or none, kept in memory, and the only server
// to notify is this one. A store struct using these has `host` and
// `presence` (an hf_local_presence) members; its ops table names
// local_presence_set<Store> and so on.
#pragma once
#include <string>
#include <unordered_map>

#include "handoff/module.h"

struct hf_local_presence {
    std::unordered_map<std::string, std::string> server_of; // account|device -> server id
};

inline std::string hf_local_presence_key(const char *account, const char *device)
{
    return std::string(account) + "|" + device;
}

template <typename Store>
void local_presence_set(void *store, const char *account, const char *device, const char *server_id, uint64_t,
                        hf_store_done_cb cb, void *arg)
{
    static_cast<Store *>(store)->presence.server_of[hf_local_presence_key(account, device)] = server_id;
    cb(arg, HF_STORE_OK);
}

template <typename Store>
void local_presence_clear(void *store, const char *account, const char *device, const char *server_id,
                          hf_store_done_cb cb, void *arg)
{
    auto &map = static_cast<Store *>(store)->presence.server_of;
    auto it = map.find(hf_local_presence_key(account, device));
    if (it != map.end() && it->second == server_id)
        map.erase(it);
    cb(arg, HF_STORE_OK);
}

template <typename Store>
void local_presence_lookup(void *store, const char *account, const char *device, hf_store_presence_cb cb, void *arg)
{
    auto &map = static_cast<Store *>(store)->presence.server_of;
    auto it = map.find(hf_local_presence_key(account, device));
    cb(arg, HF_STORE_OK, it == map.end() ? nullptr : it->second.c_str());
}

template <typename Store>
void local_notify(void *store, const char *, const char *account, const char *device)
{
    auto *s = static_cast<Store *>(store);
    s->host->data_ready(s->host->host, account, device);
}
