// Unit tests of the stores' tail cache: coverage, what a fetch after a
// seq sees, collapse removal, and the per-device and total bounds.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string>

#include "modules/common/tail_cache.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

hf_tail_cache cache(size_t budget = 1 << 20, size_t per_device = 64 << 10)
{
    hf_tail_cache c;
    c.budget = budget;
    c.per_device = per_device;
    return c;
}

// The seqs a fetch after after_seq would see, as "1,2,3"; "-" if uncovered.
std::string seqs_after(hf_tail_cache *c, const std::string &dev, uint64_t after_seq)
{
    const hf_tail *t = hf_tail_after(c, dev, after_seq);
    if (!t)
        return "-";
    std::string out;
    for (const hf_tail_entry &e : t->entries)
        out += (out.empty() ? "" : ",") + std::to_string(e.seq);
    return out;
}

void uncovered_until_a_fetch_reaches_the_end(void **)
{
    hf_tail_cache c = cache();
    hf_tail_append(&c, "alice/phone", 1, "one"); // nobody fetched: not kept
    assert_string_equal(seqs_after(&c, "alice/phone", 0).c_str(), "-");
    hf_tail_covered(&c, "alice/phone", 2); // a fetch saw seq 1 and the end
    hf_tail_append(&c, "alice/phone", 2, "two");
    hf_tail_append(&c, "alice/phone", 3, "three");
    assert_string_equal(seqs_after(&c, "alice/phone", 1).c_str(), "2,3");
    // A reconnected device asks from further back: only the store has it.
    assert_string_equal(seqs_after(&c, "alice/phone", 0).c_str(), "-");
}

void a_fetch_drops_what_was_sent(void **)
{
    hf_tail_cache c = cache();
    hf_tail_covered(&c, "d", 1);
    for (uint64_t seq = 1; seq <= 4; seq++)
        hf_tail_append(&c, "d", seq, "payload");
    size_t full = c.bytes;
    assert_string_equal(seqs_after(&c, "d", 2).c_str(), "3,4");
    assert_true(c.bytes < full);
    // Sent up to 2: asking from before that again is the store's job.
    assert_string_equal(seqs_after(&c, "d", 1).c_str(), "-");
    assert_string_equal(seqs_after(&c, "d", 4).c_str(), "");
}

void collapse_takes_the_older_message_out(void **)
{
    hf_tail_cache c = cache();
    hf_tail_covered(&c, "d", 1);
    hf_tail_append(&c, "d", 1, "tabs v1");
    hf_tail_append(&c, "d", 2, "other");
    hf_tail_remove(&c, "d", 1);
    hf_tail_append(&c, "d", 3, "tabs v2");
    hf_tail_remove(&c, "d", 9); // not there: nothing happens
    assert_string_equal(seqs_after(&c, "d", 0).c_str(), "2,3");
}

void a_device_that_stops_fetching_loses_its_tail(void **)
{
    hf_tail_cache c = cache(1 << 20, 1000);
    hf_tail_covered(&c, "away", 1);
    uint64_t seq = 1;
    while (hf_tail_after(&c, "away", 0)) // covered, and nothing fetched
        hf_tail_append(&c, "away", seq++, std::string(100, 'x'));
    assert_in_range(seq, 5, 12); // about 1000 bytes' worth, then dropped
    assert_int_equal(c.bytes, 0);
    hf_tail_append(&c, "away", seq, "late"); // stays uncovered
    assert_string_equal(seqs_after(&c, "away", seq - 1).c_str(), "-");
}

void the_budget_drops_the_least_recently_fetched(void **)
{
    hf_tail_cache c = cache(1000, 1000); // room for 7 empty tails
    for (int i = 0; i < 7; i++)
        hf_tail_covered(&c, "d" + std::to_string(i), 1);
    hf_tail_after(&c, "d0", 0); // d0 fetched again: now d1 is the oldest
    hf_tail_covered(&c, "new", 1);
    assert_true(c.bytes <= c.budget);
    assert_string_equal(seqs_after(&c, "d1", 0).c_str(), "-");
    assert_string_equal(seqs_after(&c, "d0", 0).c_str(), "");
    assert_string_equal(seqs_after(&c, "new", 0).c_str(), "");
    // A message evicts the oldest again (d2), not the tail it goes to.
    hf_tail_append(&c, "new", 1, std::string(60, 'x'));
    assert_string_equal(seqs_after(&c, "d2", 0).c_str(), "-");
    assert_string_equal(seqs_after(&c, "new", 0).c_str(), "1");
    assert_int_equal(c.lru.size(), c.tails.size());
}

void off_when_the_budget_is_zero(void **)
{
    hf_tail_cache c = cache(0, 0);
    hf_tail_covered(&c, "d", 1);
    hf_tail_append(&c, "d", 1, "one");
    assert_string_equal(seqs_after(&c, "d", 0).c_str(), "-");
    assert_int_equal(c.bytes, 0);
}

void clear_uncovers_every_device(void **)
{
    hf_tail_cache c = cache();
    for (const char *dev : {"a", "b"}) {
        hf_tail_covered(&c, dev, 1);
        hf_tail_append(&c, dev, 1, "one");
    }
    hf_tail_clear(&c);
    assert_string_equal(seqs_after(&c, "a", 0).c_str(), "-");
    assert_string_equal(seqs_after(&c, "b", 0).c_str(), "-");
    assert_int_equal(c.bytes, 0);
    hf_tail_covered(&c, "a", 2); // and the cache works on afterwards
    hf_tail_append(&c, "a", 2, "two");
    assert_string_equal(seqs_after(&c, "a", 1).c_str(), "2");
}

void someone_elses_write_drops_the_tail(void **)
{
    hf_tail_cache c = cache();
    hf_tail_covered(&c, "d", 1);
    hf_tail_append(&c, "d", 1, "one");
    hf_tail_append(&c, "d", 1, "one"); // covered already: no copy
    assert_string_equal(seqs_after(&c, "d", 0).c_str(), "1");
    // Another server sharing the store took seq 2: this cache's next
    // write is 3, and its tail would miss 2.
    hf_tail_append(&c, "d", 3, "three");
    assert_string_equal(seqs_after(&c, "d", 0).c_str(), "-");
    assert_int_equal(c.bytes, 0);
    hf_tail_covered(&c, "e", 1);
    hf_tail_append(&c, "e", 1, "one");
    hf_tail_drop(&c, "e"); // told of a write elsewhere
    assert_string_equal(seqs_after(&c, "e", 0).c_str(), "-");
    assert_int_equal(c.bytes, 0);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uncovered_until_a_fetch_reaches_the_end),
        cmocka_unit_test(someone_elses_write_drops_the_tail),
        cmocka_unit_test(a_fetch_drops_what_was_sent),
        cmocka_unit_test(collapse_takes_the_older_message_out),
        cmocka_unit_test(a_device_that_stops_fetching_loses_its_tail),
        cmocka_unit_test(the_budget_drops_the_least_recently_fetched),
        cmocka_unit_test(off_when_the_budget_is_zero),
        cmocka_unit_test(clear_uncovers_every_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
