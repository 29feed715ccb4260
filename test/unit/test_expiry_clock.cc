// Unit tests of the expiry clock (core/server/expiry_clock.h): expiry
// follows the wall clock while it agrees with the measured time, not a
// forward jump past the tolerance (until the clock agrees again), and a
// backward step at once.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "core/server/expiry_clock.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

const uint64_t start_wall = 1796600000000, start_mono = 5000, day = 86400000;

void the_wall_clock_is_followed_while_it_agrees(void **)
{
    hf_expiry_clock c;
    uint64_t jumped = 9;
    assert_true(hf_expiry_now_at(&c, start_wall, start_mono, &jumped) == start_wall);
    assert_int_equal(jumped, 0);
    // A minute of drift either way is the clock's.
    assert_true(hf_expiry_now_at(&c, start_wall + 1000 + 30000, start_mono + 1000, &jumped) == start_wall + 31000);
    assert_int_equal(jumped, 0);
}

void a_forward_jump_is_not_followed(void **)
{
    hf_expiry_clock c;
    uint64_t jumped = 0;
    hf_expiry_now_at(&c, start_wall, start_mono, &jumped);
    // Two seconds later by the monotonic clock, two days by the wall's.
    uint64_t now = hf_expiry_now_at(&c, start_wall + 2 * day, start_mono + 2000, &jumped);
    assert_true(now == start_wall + 2000);
    assert_true(jumped == (2 * day - 2000) / 1000);
    // It goes on measuring from where it was.
    now = hf_expiry_now_at(&c, start_wall + 2 * day + 5000, start_mono + 7000, &jumped);
    assert_true(now == start_wall + 7000);
}

void a_backward_step_is_followed_at_once(void **)
{
    hf_expiry_clock c;
    uint64_t jumped = 0;
    hf_expiry_now_at(&c, start_wall, start_mono, &jumped);
    uint64_t now = hf_expiry_now_at(&c, start_wall - day, start_mono + 1000, &jumped);
    assert_true(now == start_wall - day);
    assert_int_equal(jumped, 0);
    // And measured from there: a later forward jump back is not followed.
    now = hf_expiry_now_at(&c, start_wall + day, start_mono + 2000, &jumped);
    assert_true(now == start_wall - day + 1000);
    assert_true(jumped > 0);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_wall_clock_is_followed_while_it_agrees),
        cmocka_unit_test(a_forward_jump_is_not_followed),
        cmocka_unit_test(a_backward_step_is_followed_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
