// Unit tests of weighted rendezvous hashing: stability, balance, minimal
// movement, weights.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "core/allocator/rendezvous.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

std::vector<hf_rendezvous_server> servers(int n, uint64_t weight = 100)
{
    std::vector<hf_rendezvous_server> out;
    for (int i = 0; i < n; i++)
        out.push_back({"s" + std::to_string(i + 1), "s" + std::to_string(i + 1) + ".invalid:7401", weight});
    return out;
}

void known_values(void **)
{
    // Pinned so that allocators of every version rank alike.
    assert_true(hf_rendezvous_hash("alice", "s1") == hf_rendezvous_hash("alice", "s1"));
    assert_true(hf_rendezvous_hash("alice", "s1") != hf_rendezvous_hash("alice", "s2"));
    assert_true(hf_rendezvous_hash("ab", "c") != hf_rendezvous_hash("a", "bc"));
    assert_true(hf_rendezvous_hash("", "") == 0x01df27c8adb0f2d1ull);
    assert_true(hf_rendezvous_hash("alice", "s1") == 0xd91b8e2dc321b972ull);
}

void order_does_not_depend_on_input_order(void **)
{
    auto list = servers(5);
    auto reversed = std::vector<hf_rendezvous_server>(list.rbegin(), list.rend());
    for (int a = 0; a < 100; a++) {
        std::string account = "acct" + std::to_string(a);
        auto r1 = hf_rendezvous_rank(account, list, 5);
        auto r2 = hf_rendezvous_rank(account, reversed, 5);
        for (size_t i = 0; i < 5; i++)
            assert_string_equal(list[r1[i]].id.c_str(), reversed[r2[i]].id.c_str());
    }
}

void balance_across_equal_servers(void **)
{
    auto list = servers(3);
    std::map<size_t, int> first;
    const int accounts = 30000;
    for (int a = 0; a < accounts; a++)
        first[hf_rendezvous_rank("user" + std::to_string(a), list, 1)[0]]++;
    for (auto &entry : first) // each within 5% of a third
        assert_in_range(entry.second, accounts / 3 * 95 / 100, accounts / 3 * 105 / 100);
}

void only_the_dead_servers_accounts_move(void **)
{
    auto list = servers(10);
    auto without = list;
    without.erase(without.begin() + 3); // s4 dies
    for (int a = 0; a < 5000; a++) {
        std::string account = "user" + std::to_string(a);
        auto before = hf_rendezvous_rank(account, list, 3);
        auto after = hf_rendezvous_rank(account, without, 2);
        if (list[before[0]].id != "s4") {
            assert_string_equal(list[before[0]].id.c_str(), without[after[0]].id.c_str());
        } else {
            // It moves to what was its second choice: where the list sent it.
            assert_string_equal(list[before[1]].id.c_str(), without[after[0]].id.c_str());
        }
    }
}

void weights_shift_share(void **)
{
    auto list = servers(2);
    list[1].weight = 300;
    int heavy = 0;
    for (int a = 0; a < 20000; a++)
        heavy += hf_rendezvous_rank("user" + std::to_string(a), list, 1)[0] == 1;
    assert_in_range(heavy, 14500, 15500); // 3/4 of 20000
}

// A box's workers: one more worker takes accounts only to itself, one
// fewer moves only the last worker's, and every worker gets a share.
void a_workers_change_moves_only_what_it_must(void **)
{
    assert_int_equal(hf_rendezvous_worker("alice", "w", 0), -1);
    assert_int_equal(hf_rendezvous_worker("alice", "w", 1), 0);
    int on_new = 0;
    for (int a = 0; a < 3000; a++) {
        std::string account = "user" + std::to_string(a);
        int two = hf_rendezvous_worker(account, "w", 2), three = hf_rendezvous_worker(account, "w", 3);
        assert_in_range(two, 0, 1);
        if (three != two) {
            assert_int_equal(three, 2);
            on_new++;
        }
    }
    assert_in_range(on_new, 800, 1200); // a third of 3000
}

// A server's box: its workers are ranked by their server_ids, as the
// cluster's allocators rank them among other servers, so the worker the
// box holds an account on is the one of its workers ranked first there.
void a_servers_workers_are_ranked_by_their_server_ids(void **)
{
    std::vector<hf_rendezvous_server> cluster = {{"s1-w0", "a", 1}, {"s1-w1", "b", 1}, {"s2-w0", "c", 1}};
    for (int a = 0; a < 300; a++) {
        std::string account = "user" + std::to_string(a);
        std::vector<size_t> ranked = hf_rendezvous_rank(account, cluster, 3);
        size_t first_of_s1 = ranked[0] == 2 ? ranked[1] : ranked[0];
        assert_int_equal(hf_rendezvous_worker(account, "s1-w", 2), int(first_of_s1));
    }
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_values),
        cmocka_unit_test(order_does_not_depend_on_input_order),
        cmocka_unit_test(balance_across_equal_servers),
        cmocka_unit_test(only_the_dead_servers_accounts_move),
        cmocka_unit_test(weights_shift_share),
        cmocka_unit_test(a_workers_change_moves_only_what_it_must),
        cmocka_unit_test(a_servers_workers_are_ranked_by_their_server_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
