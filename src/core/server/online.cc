#include "core/server/online.h"

#include "core/server/session.h"
#include "proto/clock.h"

std::string hf_device_key(std::string_view account, std::string_view device)
{
    std::string key;
    key.reserve(account.size() + 1 + device.size());
    key.append(account);
    key.push_back('\0');
    key.append(device);
    return key;
}

void hf_online_enter(hf_online *o, hf_session *s)
{
    o->per_account[s->account]++;
    s->online = true;
    o->devices[s->key] = s;
    auto recent = o->recent_acks.find(s->key);
    if (recent != o->recent_acks.end()) {
        s->acked_upto = recent->second.first; // its queue's sequence goes on
        o->recent_acks.erase(recent);
    }
}

void hf_online_leave(hf_online *o, hf_session *s)
{
    s->online = false;
    auto it = o->devices.find(s->key);
    if (it != o->devices.end() && it->second == s)
        o->devices.erase(it);
    if (s->acked_upto)
        o->recent_acks[s->key] = {s->acked_upto, hf_mono_ms()};
    auto count = o->per_account.find(s->account);
    if (count != o->per_account.end() && --count->second == 0)
        o->per_account.erase(count);
}

hf_session *hf_online_find(hf_online *o, std::string_view account, std::string_view device)
{
    auto it = o->devices.find(hf_device_key(account, device));
    return it == o->devices.end() ? nullptr : it->second;
}

uint64_t hf_online_acked_upto(hf_online *o, std::string_view account, std::string_view device)
{
    std::string key = hf_device_key(account, device);
    auto online = o->devices.find(key);
    if (online != o->devices.end())
        return online->second->acked_upto;
    auto recent = o->recent_acks.find(key);
    return recent == o->recent_acks.end() ? 0 : recent->second.first;
}

void hf_online_prune(hf_online *o)
{
    uint64_t now = hf_mono_ms();
    for (auto it = o->recent_acks.begin(); it != o->recent_acks.end();)
        it = now - it->second.second > 60000 ? o->recent_acks.erase(it) : std::next(it);
}
