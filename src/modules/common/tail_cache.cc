#include "modules/common/tail_cache.h"

#include <algorithm>

namespace
{

// What a tail and an entry cost beyond their bytes: map node, key, list
// and vector slots, roughly; it keeps empty tails from being free.
const size_t tail_overhead = 128;
const size_t entry_overhead = 48;

using tail_iter = std::unordered_map<std::string, hf_tail>::iterator;

void drop(hf_tail_cache *c, tail_iter it)
{
    c->bytes -= it->second.bytes;
    c->lru.erase(it->second.lru);
    c->tails.erase(it);
}

// Makes room for `size` more bytes by dropping the least recently fetched
// tails; false if the budget cannot hold it at all.
bool make_room(hf_tail_cache *c, size_t size)
{
    while (c->bytes + size > c->budget && !c->lru.empty())
        drop(c, c->tails.find(*c->lru.front()));
    return c->bytes + size <= c->budget;
}

void entry_gone(hf_tail_cache *c, hf_tail *t, const hf_tail_entry &e)
{
    size_t size = e.record.size() + entry_overhead;
    t->bytes -= size;
    c->bytes -= size;
}

} // namespace

void hf_tail_covered(hf_tail_cache *c, const std::string &dev, uint64_t next_seq)
{
    auto it = c->tails.find(dev);
    if (it != c->tails.end())
        drop(c, it);
    if (!make_room(c, tail_overhead))
        return;
    it = c->tails.emplace(dev, hf_tail{}).first;
    it->second.from = it->second.next = next_seq;
    it->second.bytes = tail_overhead;
    it->second.lru = c->lru.insert(c->lru.end(), &it->first);
    c->bytes += tail_overhead;
}

void hf_tail_append(hf_tail_cache *c, const std::string &dev, uint64_t seq, std::string record)
{
    auto it = c->tails.find(dev);
    if (it == c->tails.end() || seq < it->second.next)
        return; // a fetch that started the tail read it already
    size_t size = record.size() + entry_overhead;
    if (seq > it->second.next || it->second.bytes + size > c->per_device) {
        // Someone else's write between, or a device that stopped
        // fetching: the tail no longer covers its queue, and its reads go
        // to the store.
        drop(c, it);
        return;
    }
    if (!make_room(c, size) || (it = c->tails.find(dev)) == c->tails.end())
        return; // the least recently fetched was this one
    it->second.entries.push_back(hf_tail_entry{seq, std::move(record)});
    it->second.next = seq + 1;
    it->second.bytes += size;
    c->bytes += size;
}

void hf_tail_remove(hf_tail_cache *c, const std::string &dev, uint64_t seq)
{
    auto it = c->tails.find(dev);
    if (it == c->tails.end())
        return;
    std::vector<hf_tail_entry> &entries = it->second.entries;
    auto at = std::lower_bound(entries.begin(), entries.end(), seq,
                               [](const hf_tail_entry &e, uint64_t s) { return e.seq < s; });
    if (at == entries.end() || at->seq != seq)
        return;
    entry_gone(c, &it->second, *at);
    entries.erase(at);
}

const hf_tail *hf_tail_after(hf_tail_cache *c, const std::string &dev, uint64_t after_seq)
{
    auto it = c->tails.find(dev);
    if (it == c->tails.end() || after_seq + 1 < it->second.from)
        return nullptr;
    hf_tail &t = it->second;
    auto sent = t.entries.begin();
    for (; sent != t.entries.end() && sent->seq <= after_seq; ++sent)
        entry_gone(c, &t, *sent);
    t.entries.erase(t.entries.begin(), sent);
    if (t.entries.empty())
        t.entries.shrink_to_fit(); // an idle device's tail holds no buffer
    t.from = std::max(t.from, after_seq + 1);
    c->lru.splice(c->lru.end(), c->lru, t.lru);
    return &t;
}

void hf_tail_drop(hf_tail_cache *c, const std::string &dev)
{
    auto it = c->tails.find(dev);
    if (it != c->tails.end())
        drop(c, it);
}

void hf_tail_clear(hf_tail_cache *c)
{
    c->tails.clear();
    c->lru.clear();
    c->bytes = 0;
}
