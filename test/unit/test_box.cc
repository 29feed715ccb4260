// Unit tests of the box (workers' shared metrics): adding samples up, and
// one worker's sample read whole by another process while it is written.
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/box/box.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

void counters_and_gauges_add_up(void **)
{
    hf_metrics_sample a, b, total;
    a.stats.messages_received = 3;
    b.stats.messages_received = 4;
    hf_histogram_observe(&a.stats.store_enqueue_seconds, 200);
    hf_histogram_observe(&b.stats.store_enqueue_seconds, 2000);
    a.limit_hits[int(hf_limit::send_rate)] = 1;
    b.limit_hits[int(hf_limit::send_rate)] = 2;
    hf_api_count_add(&a, "messages", 202, 5);
    hf_api_count_add(&b, "messages", 202, 6);
    hf_api_count_add(&b, "status", 200, 1);
    a.connections = 10;
    b.connections = 20;
    a.draining = 1;
    a.queue_depth = 7; // b's store has not said
    a.store_capacity_bytes = 100;
    b.store_capacity_bytes = 100;
    hf_metrics_sample_add(&total, a, false);
    hf_metrics_sample_add(&total, b, false);
    assert_int_equal(total.stats.messages_received, 7);
    assert_int_equal(total.stats.store_enqueue_seconds.count, 2);
    assert_int_equal(total.stats.store_enqueue_seconds.sum_us, 2200);
    assert_int_equal(total.stats.store_enqueue_seconds.buckets[1], 1); // <= 250 us
    assert_int_equal(total.limit_hits[int(hf_limit::send_rate)], 3);
    assert_int_equal(total.api_used, 2);
    assert_string_equal(total.api[0].route, "messages");
    assert_int_equal(total.api[0].n, 11);
    assert_int_equal(total.connections, 30);
    assert_int_equal(total.draining, 1); // any
    assert_int_equal(total.queue_depth, 7);
    assert_int_equal(total.store_used_bytes, -1); // nobody said
    assert_int_equal(total.store_capacity_bytes, 200);
}

void a_shared_store_is_not_added(void **)
{
    hf_metrics_sample a, total;
    a.queue_depth = 5;
    a.store_capacity_bytes = 100;
    hf_metrics_sample_add(&total, a, true);
    hf_metrics_sample_add(&total, a, true);
    assert_int_equal(total.queue_depth, -1);
    assert_int_equal(total.store_capacity_bytes, 0);
}

void api_counts_past_the_table_are_dropped(void **)
{
    hf_metrics_sample s;
    for (int status = 0; status < hf_metrics_sample::api_count_max + 10; status++)
        hf_api_count_add(&s, "a-route-name-longer-than-its-field", status, 1);
    assert_int_equal(s.api_used, hf_metrics_sample::api_count_max);
    assert_int_equal(strlen(s.api[0].route), sizeof s.api[0].route - 1);
}

void the_supervisor_keeps_pids_and_restarts(void **)
{
    hf_box *box = hf_box_create(2);
    assert_non_null(box);
    assert_int_equal(hf_box_workers(box), 2);
    hf_metrics_sample s;
    hf_worker_state w;
    hf_box_read(box, 1, &s, &w);
    assert_int_equal(w.pid, 0);
    assert_true(w.report_age_ms == UINT64_MAX);
    hf_box_started(box, 1, 1234, false);
    hf_box_exited(box, 1);
    hf_box_started(box, 1, 1235, true);
    s.connections = 9;
    hf_box_publish(box, 1, s);
    hf_box_read(box, 1, &s, &w);
    assert_int_equal(w.pid, 1235);
    assert_int_equal(w.restarts, 1);
    assert_true(w.report_age_ms < 1000);
    assert_int_equal(s.connections, 9);
    hf_box_free(box);
}

// A child publishes samples whose every gauge is the same number, with a
// short pause between (a worker publishes once a second); the parent
// reads all the while and must never see two different numbers in one.
void a_sample_is_read_whole_while_it_is_written(void **)
{
    const uint64_t publishes = 10000;
    hf_box *box = hf_box_create(1);
    assert_non_null(box);
    pid_t child = fork();
    if (child == 0) {
        hf_metrics_sample s;
        for (uint64_t n = 1; n <= publishes; n++) {
            s.connections = s.online_devices = s.inflight = s.sends_waiting = s.stats.messages_received = n;
            hf_box_publish(box, 0, s);
            usleep(10);
        }
        _exit(0);
    }
    uint64_t reads = 0, last = 0;
    int status = 0;
    while (waitpid(child, &status, WNOHANG) == 0) {
        hf_metrics_sample s;
        hf_worker_state w;
        hf_box_read(box, 0, &s, &w);
        assert_int_equal(s.connections, s.stats.messages_received);
        assert_int_equal(s.online_devices, s.connections);
        assert_int_equal(s.inflight, s.sends_waiting);
        assert_true(s.connections >= last); // never older than what was read before
        last = s.connections;
        reads++;
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    hf_metrics_sample s;
    hf_worker_state w;
    hf_box_read(box, 0, &s, &w);
    assert_int_equal(s.connections, publishes);
    assert_true(reads > 0);
    hf_box_free(box);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_and_gauges_add_up),
        cmocka_unit_test(a_shared_store_is_not_added),
        cmocka_unit_test(api_counts_past_the_table_are_dropped),
        cmocka_unit_test(the_supervisor_keeps_pids_and_restarts),
        cmocka_unit_test(a_sample_is_read_whole_while_it_is_written),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
