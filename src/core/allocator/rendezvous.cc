#include "core/allocator/rendezvous.h"

#include <algorithm>
#include <cmath>

uint64_t hf_rendezvous_hash(std::string_view key, std::string_view server_id)
{
    uint64_t h = 14695981039346656037ull;
    auto mix_in = [&h](std::string_view s) {
        for (unsigned char ch : s) {
            h ^= ch;
            h *= 1099511628211ull;
        }
    };
    mix_in(key);
    h ^= 0xff; // separator: ("ab","c") and ("a","bc") differ
    h *= 1099511628211ull;
    mix_in(server_id);
    h += 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

double hf_rendezvous_score(std::string_view key, const hf_rendezvous_server &s)
{
    // 53 bits into (0, 1): never 0 (log(0)) and never 1 (division by 0).
    double u = (double(hf_rendezvous_hash(key, s.id) >> 11) + 0.5) / 9007199254740992.0;
    return double(s.weight) / -std::log(u);
}

std::vector<size_t> hf_rendezvous_rank(std::string_view key, const std::vector<hf_rendezvous_server> &servers,
                                       size_t max_count)
{
    std::vector<std::pair<double, size_t>> scored;
    scored.reserve(servers.size());
    for (size_t i = 0; i < servers.size(); i++)
        scored.emplace_back(hf_rendezvous_score(key, servers[i]), i);
    std::sort(scored.begin(), scored.end(), [&servers](const auto &a, const auto &b) {
        if (a.first != b.first)
            return a.first > b.first;
        return servers[a.second].id < servers[b.second].id;
    });
    std::vector<size_t> ranked;
    for (size_t i = 0; i < scored.size() && i < max_count; i++)
        ranked.push_back(scored[i].second);
    return ranked;
}

int hf_rendezvous_worker(std::string_view account, std::string_view names, int workers)
{
    std::vector<hf_rendezvous_server> named;
    for (int k = 0; k < workers; k++)
        named.push_back({std::string(names) + std::to_string(k), "", 1});
    std::vector<size_t> first = hf_rendezvous_rank(account, named, 1);
    return first.empty() ? -1 : int(first[0]);
}
