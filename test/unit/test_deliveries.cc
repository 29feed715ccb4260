// Unit tests of the client's bookkeeping of delivered and acknowledged
// messages: copies of acknowledged ones are hidden and acknowledged.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "client/deliveries.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

// Delivers (from, id) as seq; returns whether it is shown.
bool shown(hf_acked_ids *acked, hf_link_deliveries *link, const char *from, uint64_t id, uint64_t seq,
           uint64_t *ack_upto)
{
    return !hf_deliveries_arrived(acked, link, from, id, seq, ack_upto);
}

void new_messages_are_shown_and_remembered_once_acknowledged(void **)
{
    hf_acked_ids acked;
    hf_link_deliveries first, second;
    uint64_t ack;
    assert_true(shown(&acked, &first, "pc", 7, 1, &ack));
    assert_true(shown(&acked, &first, "pc", 8, 2, &ack));
    assert_int_equal(hf_deliveries_acked(&acked, &first, 1), 1);
    // On the next server: id 7 was acknowledged, id 8 was not.
    assert_false(shown(&acked, &second, "pc", 7, 1, &ack));
    assert_int_equal(ack, 1); // nothing shown before it waits: acknowledged at once
    assert_true(shown(&acked, &second, "pc", 8, 2, &ack));
    // The same id from another device is another message.
    assert_true(shown(&acked, &second, "tablet", 7, 3, &ack));
}

void a_copy_behind_a_waiting_message_is_acknowledged_with_it(void **)
{
    hf_acked_ids acked;
    hf_link_deliveries before, link;
    uint64_t ack;
    shown(&acked, &before, "pc", 2, 1, &ack);
    shown(&acked, &before, "pc", 3, 2, &ack);
    hf_deliveries_acked(&acked, &before, 2);
    assert_true(shown(&acked, &link, "pc", 1, 10, &ack)); // not yet acknowledged by the app
    assert_false(shown(&acked, &link, "pc", 2, 11, &ack));
    assert_int_equal(ack, 0); // seq 10 still waits: acking 11 would cover it
    assert_false(shown(&acked, &link, "pc", 3, 12, &ack));
    assert_int_equal(ack, 0);
    assert_true(shown(&acked, &link, "pc", 4, 13, &ack));
    // The application acknowledges 10: the two hidden copies go with it,
    // the shown 13 does not.
    assert_int_equal(hf_deliveries_acked(&acked, &link, 10), 12);
    assert_int_equal(link.by_seq.size(), 1);
    assert_int_equal(hf_deliveries_acked(&acked, &link, 13), 13);
    assert_true(link.by_seq.empty());
}

void only_the_newest_keys_are_kept(void **)
{
    hf_acked_ids acked;
    acked.capacity = 3;
    hf_link_deliveries link, next;
    uint64_t ack;
    for (uint64_t id = 1; id <= 4; id++)
        shown(&acked, &link, "pc", id, id, &ack);
    assert_int_equal(hf_deliveries_acked(&acked, &link, 4), 4);
    assert_int_equal(acked.keys.size(), 3);
    assert_true(shown(&acked, &next, "pc", 1, 1, &ack)); // forgotten: shown again
    hf_deliveries_acked(&acked, &next, 1);
    assert_false(shown(&acked, &next, "pc", 4, 2, &ack));
    assert_int_equal(ack, 2);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_messages_are_shown_and_remembered_once_acknowledged),
        cmocka_unit_test(a_copy_behind_a_waiting_message_is_acknowledged_with_it),
        cmocka_unit_test(only_the_newest_keys_are_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
