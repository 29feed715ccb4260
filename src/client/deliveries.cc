// See deliveries.h.
#include "client/deliveries.h"

namespace
{

std::string message_key(const char *from, uint64_t id)
{
    // Device names never hold a NUL, so the key is unambiguous.
    std::string key(from);
    key += '\0';
    key.append(reinterpret_cast<const char *>(&id), sizeof id);
    return key;
}

void remember(hf_acked_ids *acked, std::string key)
{
    if (!acked->keys.insert(key).second)
        return;
    acked->order.push_back(std::move(key));
    if (acked->order.size() > acked->capacity) {
        acked->keys.erase(acked->order.front());
        acked->order.pop_front();
    }
}

} // namespace

bool hf_deliveries_arrived(hf_acked_ids *acked, hf_link_deliveries *link, const char *from, uint64_t id, uint64_t seq,
                           uint64_t *ack_upto)
{
    std::string key = message_key(from, id);
    bool copy = acked->keys.count(key) != 0;
    *ack_upto = 0;
    if (copy && link->by_seq.empty()) {
        *ack_upto = seq;
        return true;
    }
    link->by_seq[seq] = {std::move(key), copy};
    return copy;
}

uint64_t hf_deliveries_acked(hf_acked_ids *acked, hf_link_deliveries *link, uint64_t seq)
{
    auto &by_seq = link->by_seq;
    auto it = by_seq.begin();
    for (; it != by_seq.end() && it->first <= seq; ++it)
        if (!it->second.hidden)
            remember(acked, std::move(it->second.key));
    uint64_t upto = seq;
    for (; it != by_seq.end() && it->second.hidden; ++it)
        upto = it->first;
    by_seq.erase(by_seq.begin(), it);
    return upto;
}
