// Unit tests of the adaptive heartbeat probe, on a test clock.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "client/hb_probe.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

// Runs n healthy pings at the current interval, advancing the clock.
uint64_t healthy(hf_hb_probe *p, uint64_t *now, int n)
{
    uint64_t next = p->current_ms;
    for (int i = 0; i < n; i++) {
        *now += p->current_ms;
        next = hf_hb_probe_success(p, *now);
    }
    return next;
}

void grows_on_a_healthy_path(void **)
{
    hf_hb_probe p;
    uint64_t now = 0;
    hf_hb_probe_start(&p, 1000, 8000, 1000);
    assert_int_equal(healthy(&p, &now, 2), 1000); // not yet: 3 in a row
    assert_int_equal(healthy(&p, &now, 1), 1500);
    assert_int_equal(healthy(&p, &now, 3), 2250);
    assert_int_equal(healthy(&p, &now, 3), 3375);
    assert_int_equal(healthy(&p, &now, 3), 5062);
    assert_int_equal(healthy(&p, &now, 3), 7593);
    assert_int_equal(healthy(&p, &now, 3), 8000); // capped at the server's max
    assert_int_equal(healthy(&p, &now, 9), 8000);
    assert_int_equal(p.last_good_ms, 8000);
}

void steps_back_and_pins_after_a_failure(void **)
{
    hf_hb_probe p;
    uint64_t now = 0;
    hf_hb_probe_start(&p, 1000, 8000, 1000);
    healthy(&p, &now, 9); // 1000 -> 1500 -> 2250 -> 3375 (probing)
    assert_int_equal(p.current_ms, 3375);
    assert_int_equal(p.last_good_ms, 2250);
    // The middlebox drops the connection at 3375: back to 2250, pinned.
    assert_int_equal(hf_hb_probe_failure(&p, now), 2250);
    assert_true(hf_hb_probe_pinned(&p, now));
    assert_int_equal(healthy(&p, &now, 30), 2250); // no probing while pinned
    // After the pin (30 min) it probes again.
    now += p.pin_ms;
    assert_false(hf_hb_probe_pinned(&p, now));
    assert_int_equal(healthy(&p, &now, 3), 3375);
}

void halves_when_the_good_interval_fails(void **)
{
    hf_hb_probe p;
    uint64_t now = 0;
    hf_hb_probe_start(&p, 1000, 8000, 4000);
    healthy(&p, &now, 3);         // 4000 proven, probing 6000
    hf_hb_probe_failure(&p, now); // back to 4000
    assert_int_equal(p.current_ms, 4000);
    assert_int_equal(hf_hb_probe_failure(&p, now), 2000); // 4000 failed too
    assert_int_equal(p.last_good_ms, 2000);
    assert_int_equal(hf_hb_probe_failure(&p, now), 1000);
    assert_int_equal(hf_hb_probe_failure(&p, now), 1000); // never below min
}

void server_clamp_is_respected(void **)
{
    hf_hb_probe p;
    uint64_t now = 0;
    hf_hb_probe_start(&p, 1000, 8000, 1000);
    healthy(&p, &now, 3);
    hf_hb_probe_granted(&p, 1200); // asked 1500, server gave 1200
    assert_int_equal(p.current_ms, 1200);
    // A later connection keeps what it learnt.
    hf_hb_probe_failure(&p, now);
    hf_hb_probe_start(&p, 1000, 8000, 1000);
    assert_int_equal(p.last_good_ms, 1000);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grows_on_a_healthy_path),
        cmocka_unit_test(steps_back_and_pins_after_a_failure),
        cmocka_unit_test(halves_when_the_good_interval_fails),
        cmocka_unit_test(server_clamp_is_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
