// rendezvous-sim: the allocator's weighted rendezvous hashing over many
// servers, without a network: how evenly accounts spread, and how many
// move when one server dies or one is added (ideally only the dead
// server's, and only a fair share to the new one). Prints a table and one
// JSON object. Usage: rendezvous-sim [SERVERS [ACCOUNTS]]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/report.h"
#include "core/allocator/rendezvous.h"

namespace
{

std::vector<hf_rendezvous_server> make_servers(size_t count)
{
    std::vector<hf_rendezvous_server> servers;
    for (size_t i = 0; i < count; i++)
        servers.push_back({"relay" + std::to_string(i), "relay" + std::to_string(i) + ".invalid:7401", 100});
    return servers;
}

// The first-choice server id of every account.
std::vector<std::string> assign(const std::vector<hf_rendezvous_server> &servers, size_t accounts)
{
    std::vector<std::string> owner(accounts);
    for (size_t a = 0; a < accounts; a++)
        owner[a] = servers[hf_rendezvous_rank("account" + std::to_string(a), servers, 1)[0]].id;
    return owner;
}

size_t moved(const std::vector<std::string> &before, const std::vector<std::string> &after)
{
    size_t n = 0;
    for (size_t a = 0; a < before.size(); a++)
        n += before[a] != after[a];
    return n;
}

} // namespace

int main(int argc, char **argv)
{
    size_t server_count = argc > 1 ? size_t(atol(argv[1])) : 100;
    size_t accounts = argc > 2 ? size_t(atol(argv[2])) : 1000000;
    if (server_count < 2 || accounts < 1) {
        fprintf(stderr, "usage: rendezvous-sim [SERVERS >= 2 [ACCOUNTS >= 1]]\n");
        return 2;
    }
    std::vector<hf_rendezvous_server> servers = make_servers(server_count);
    std::vector<std::string> base = assign(servers, accounts);

    // Balance: accounts per server against the mean.
    std::vector<size_t> load(server_count, 0);
    for (size_t a = 0; a < accounts; a++)
        load[size_t(atol(base[a].c_str() + 5))]++;
    double mean = double(accounts) / double(server_count);
    double var = 0;
    for (size_t l : load)
        var += (double(l) - mean) * (double(l) - mean);
    double stddev = std::sqrt(var / double(server_count));
    auto [lo, hi] = std::minmax_element(load.begin(), load.end());

    // One server dies: only its accounts should move.
    std::vector<hf_rendezvous_server> without = servers;
    without.erase(without.begin() + long(server_count / 2));
    std::vector<std::string> after_death = assign(without, accounts);
    size_t on_dead = size_t(std::count(base.begin(), base.end(), servers[server_count / 2].id));
    size_t moved_death = moved(base, after_death);

    // One server is added: only accounts that now rank it first move.
    std::vector<hf_rendezvous_server> with = servers;
    with.push_back({"relay" + std::to_string(server_count), "relay-new.invalid:7401", 100});
    std::vector<std::string> after_add = assign(with, accounts);
    size_t moved_add = moved(base, after_add);
    size_t to_new = size_t(std::count(after_add.begin(), after_add.end(), with.back().id));

    bench_report r;
    r.scenario = "rendezvous";
    bench_report_number(&r, "servers", double(server_count), "");
    bench_report_number(&r, "accounts", double(accounts), "");
    bench_report_number(&r, "mean_per_server", mean, "accounts");
    bench_report_number(&r, "min_per_server", double(*lo), "accounts");
    bench_report_number(&r, "max_per_server", double(*hi), "accounts");
    bench_report_number(&r, "stddev_percent", 100 * stddev / mean, "% of the mean", 2);
    bench_report_number(&r, "death_accounts_on_dead", double(on_dead), "");
    bench_report_number(&r, "death_moved", double(moved_death), "accounts (ideal: those on the dead one)");
    bench_report_number(&r, "death_moved_others", double(moved_death - on_dead), "accounts of live servers moved");
    bench_report_number(&r, "add_moved", double(moved_add), "accounts");
    bench_report_number(&r, "add_moved_to_new", double(to_new), "accounts (ideal: all moved ones)");
    bench_report_number(&r, "add_moved_percent", 100.0 * double(moved_add) / double(accounts), "% (ideal: 1/(n+1))", 3);
    bench_report_print(&r);
    return moved_death == on_dead && moved_add == to_new ? 0 : 1;
}
