// Unit tests of the stores' de-duplication record: resends within the
// ring are recognised, ids skipped are not, an id too old to judge is
// taken, a restarted client begins again, and the record's size never
// depends on how many ids it has seen.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string>

#include "modules/common/dedup.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

const size_t width = 64;

bool seen(const std::string &record, uint64_t id)
{
    return hf_dedup_seen(reinterpret_cast<const uint8_t *>(record.data()), record.size(), id);
}

uint64_t last_seq(const std::string &record)
{
    return hf_dedup_last_seq(reinterpret_cast<const uint8_t *>(record.data()), record.size());
}

void nothing_is_seen_without_a_record(void **)
{
    std::string record;
    assert_false(seen(record, 1));
    assert_int_equal(last_seq(record), 0);
}

void ids_counting_up_are_each_recognised(void **)
{
    std::string record;
    for (uint64_t id = 1000; id < 1000 + width; id++) {
        assert_false(seen(record, id));
        hf_dedup_accept(&record, width, id, id - 999, 5);
    }
    for (uint64_t id = 1000; id < 1000 + width; id++)
        assert_true(seen(record, id));
    assert_false(seen(record, 1000 + width));
    assert_int_equal(last_seq(record), width);
    assert_int_equal(hf_dedup_last_ms(reinterpret_cast<const uint8_t *>(record.data()), record.size()), 5);
}

void the_record_does_not_grow(void **)
{
    std::string record;
    hf_dedup_accept(&record, width, 1, 1, 0);
    size_t size = record.size();
    assert_int_equal(size, hf_dedup_header_bytes + width / 8);
    for (uint64_t id = 2; id < 100000; id++)
        hf_dedup_accept(&record, width, id, id, 0);
    assert_int_equal(record.size(), size);
    assert_true(seen(record, 99999));
    assert_true(seen(record, 99999 - width + 1));
    assert_false(seen(record, 99999 - width));
}

void skipped_ids_are_not_seen(void **)
{
    // A sender's ids interleave over its targets: this target sees every
    // third. The bits the ring held for older ids must not answer for them.
    std::string record;
    for (uint64_t id = 1; id <= 3 * width; id += 3)
        hf_dedup_accept(&record, width, id, id, 0);
    uint64_t top = 3 * width - 2;
    for (uint64_t id = top - width + 1; id <= top; id++)
        assert_int_equal(seen(record, id), (id - 1) % 3 == 0);
}

void a_late_id_inside_the_ring_is_new_once(void **)
{
    std::string record;
    hf_dedup_accept(&record, width, 10, 1, 0);
    hf_dedup_accept(&record, width, 12, 2, 0);
    assert_false(seen(record, 11)); // sent after 12, or never
    hf_dedup_accept(&record, width, 11, 3, 0);
    assert_true(seen(record, 11));
    assert_true(seen(record, 12));
    assert_int_equal(last_seq(record), 3);
}

void an_id_too_old_to_judge_is_taken_and_changes_nothing(void **)
{
    std::string record;
    hf_dedup_accept(&record, width, 1000, 1, 0);
    hf_dedup_accept(&record, width, 1001, 2, 0);
    assert_false(seen(record, 1000 - width)); // may be a resend: taken
    hf_dedup_accept(&record, width, 1000 - width, 3, 0);
    assert_false(seen(record, 1000 - width));
    assert_true(seen(record, 1000));
    assert_true(seen(record, 1001));
}

void a_jump_past_the_ring_forgets_it(void **)
{
    std::string record;
    hf_dedup_accept(&record, width, 5, 1, 0);
    hf_dedup_accept(&record, width, 5 + width, 2, 0);
    assert_false(seen(record, 5));
    assert_true(seen(record, 5 + width));
}

void a_client_restarted_lower_begins_again(void **)
{
    std::string record;
    uint64_t before = uint64_t(1) << 60, after = 12345;
    hf_dedup_accept(&record, width, before, 1, 0);
    assert_false(seen(record, after));
    hf_dedup_accept(&record, width, after, 2, 0);
    hf_dedup_accept(&record, width, after + 1, 3, 0);
    assert_true(seen(record, after));
    assert_true(seen(record, after + 1));
    assert_false(seen(record, before)); // the old run is forgotten: a resend of it is taken
}

void a_record_of_another_width_begins_again(void **)
{
    std::string record;
    hf_dedup_accept(&record, width, 7, 1, 0);
    hf_dedup_accept(&record, 2 * width, 8, 2, 0);
    assert_int_equal(record.size(), hf_dedup_header_bytes + 2 * width / 8);
    assert_true(seen(record, 8));
    assert_false(seen(record, 7));
}

void a_damaged_record_sees_nothing(void **)
{
    std::string record(hf_dedup_header_bytes, '\xff');
    assert_false(seen(record, 1));
    assert_int_equal(last_seq(record), 0);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_is_seen_without_a_record),
        cmocka_unit_test(ids_counting_up_are_each_recognised),
        cmocka_unit_test(the_record_does_not_grow),
        cmocka_unit_test(skipped_ids_are_not_seen),
        cmocka_unit_test(a_late_id_inside_the_ring_is_new_once),
        cmocka_unit_test(an_id_too_old_to_judge_is_taken_and_changes_nothing),
        cmocka_unit_test(a_jump_past_the_ring_forgets_it),
        cmocka_unit_test(a_client_restarted_lower_begins_again),
        cmocka_unit_test(a_record_of_another_width_begins_again),
        cmocka_unit_test(a_damaged_record_sees_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
