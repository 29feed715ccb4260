#include "core/api/idempotency.h"

namespace
{

// One string per API key, account and key; each part's length first, so
// that no two triples make the same string.
std::string scoped_key(const std::string &api_key, const std::string &account, const std::string &key)
{
    return std::to_string(api_key.size()) + ":" + api_key + std::to_string(account.size()) + ":" + account + key;
}

// Drops the expired from the front, and the oldest beyond max_keys.
void prune(hf_idempotency *m, uint64_t now_ms)
{
    while (!m->order.empty()) {
        const auto &[scoped, expires_ms] = m->order.front();
        auto it = m->ids.find(scoped);
        bool current = it != m->ids.end() && it->second.expires_ms == expires_ms;
        if (current && expires_ms > now_ms && m->ids.size() < m->max_keys)
            return;
        if (current)
            m->ids.erase(it);
        m->order.pop_front();
    }
}

} // namespace

bool hf_idempotency_pick(hf_idempotency *m, const std::string &api_key, const std::string &account,
                         const std::string &key, uint64_t fresh, uint64_t now_ms, uint64_t *id)
{
    std::string scoped = scoped_key(api_key, account, key);
    auto it = m->ids.find(scoped);
    if (it != m->ids.end() && it->second.expires_ms > now_ms) {
        *id = it->second.id;
        return false;
    }
    if (it != m->ids.end())
        m->ids.erase(it); // expired; prune drops its place in order
    prune(m, now_ms);
    m->ids[scoped] = {fresh, now_ms + m->keep_ms};
    m->order.emplace_back(scoped, now_ms + m->keep_ms);
    *id = fresh;
    return true;
}
