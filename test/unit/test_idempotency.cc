// Unit tests of the Idempotency-Key map (core/api/idempotency.h): a key
// keeps its id within the window, per API key and account; it is picked
// anew once expired; past max_keys the oldest is forgotten.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "core/api/idempotency.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

hf_idempotency map_of(size_t max_keys)
{
    hf_idempotency m;
    m.max_keys = max_keys;
    m.keep_ms = 1000;
    return m;
}

uint64_t pick(hf_idempotency *m, const char *api_key, const char *account, const char *key, uint64_t fresh,
              uint64_t now, bool fresh_taken)
{
    uint64_t id = 0;
    assert_int_equal(hf_idempotency_pick(m, api_key, account, key, fresh, now, &id), fresh_taken);
    return id;
}

void a_retry_gets_the_first_id(void **)
{
    hf_idempotency m = map_of(10);
    assert_int_equal(pick(&m, "backend", "alice", "order-7", 100, 0, true), 100);
    assert_int_equal(pick(&m, "backend", "alice", "order-7", 101, 999, false), 100);
    assert_int_equal(pick(&m, "backend", "alice", "order-8", 101, 999, true), 101);
}

void keys_are_scoped_by_api_key_and_account(void **)
{
    hf_idempotency m = map_of(10);
    pick(&m, "backend", "alice", "k", 1, 0, true);
    assert_int_equal(pick(&m, "ops", "alice", "k", 2, 0, true), 2);
    assert_int_equal(pick(&m, "backend", "bob", "k", 3, 0, true), 3);
    // No two scopes run together: "a" + "b1:c" is not "a1:b" + "c".
    assert_int_equal(pick(&m, "a", "b1:c", "", 4, 0, true), 4);
    assert_int_equal(pick(&m, "a1:b", "c", "", 5, 0, true), 5);
    assert_int_equal(m.ids.size(), 5);
}

void an_expired_key_is_picked_anew_once(void **)
{
    hf_idempotency m = map_of(10);
    pick(&m, "backend", "alice", "k", 1, 0, true);
    assert_int_equal(pick(&m, "backend", "alice", "k", 2, 1000, true), 2);
    assert_int_equal(pick(&m, "backend", "alice", "k", 3, 1500, false), 2);
    // The first entry's place in the order does not take the second away.
    pick(&m, "backend", "alice", "other", 4, 1600, true);
    assert_int_equal(pick(&m, "backend", "alice", "k", 5, 1900, false), 2);
    assert_int_equal(m.ids.size(), 2);
}

void past_max_keys_the_oldest_is_forgotten(void **)
{
    hf_idempotency m = map_of(2);
    pick(&m, "backend", "alice", "a", 1, 0, true);
    pick(&m, "backend", "alice", "b", 2, 1, true);
    pick(&m, "backend", "alice", "c", 3, 2, true);
    assert_int_equal(m.ids.size(), 2);
    assert_int_equal(pick(&m, "backend", "alice", "c", 9, 3, false), 3);
    assert_int_equal(pick(&m, "backend", "alice", "a", 4, 3, true), 4);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_retry_gets_the_first_id),
        cmocka_unit_test(keys_are_scoped_by_api_key_and_account),
        cmocka_unit_test(an_expired_key_is_picked_anew_once),
        cmocka_unit_test(past_max_keys_the_oldest_is_forgotten),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
