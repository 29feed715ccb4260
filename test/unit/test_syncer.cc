// Unit tests of the stores' sync thread: a request is committed on the
// reactor and synced on the thread, answers come on the reactor with the
// generation synced, requests within the gap share one commit and sync, a
// failed sync is reported for what it covered, and stopping joins the
// thread.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include <atomic>
#include <string>
#include <thread>

#include "modules/lmdb/syncer.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

struct fixture {
    event_base *base = event_base_new();
    std::atomic<int> syncs{0};
    uint64_t commits = 0;          // also the generation of the last commit
    bool commit_fails = false;     // the next commit fails: nothing to sync
    std::atomic<int> fail_next{0}; // the next sync returns an error
    std::thread::id reactor = std::this_thread::get_id();
    bool synced_on_other_thread = true;
    uint64_t synced = 0, failed = 0;
    int answers = 0;
    ~fixture() { event_base_free(base); } // after the test has stopped its syncer
};

uint64_t fake_commit(void *arg)
{
    auto *f = static_cast<fixture *>(arg);
    assert_true(std::this_thread::get_id() == f->reactor);
    if (f->commit_fails) {
        f->commit_fails = false;
        return 0;
    }
    return ++f->commits;
}

int fake_sync(void *arg)
{
    auto *f = static_cast<fixture *>(arg);
    if (std::this_thread::get_id() == f->reactor)
        f->synced_on_other_thread = false;
    f->syncs++;
    return f->fail_next.exchange(0);
}

void on_synced(void *arg, uint64_t synced_gen, uint64_t failed_gen)
{
    auto *f = static_cast<fixture *>(arg);
    assert_true(std::this_thread::get_id() == f->reactor); // answers on the reactor
    f->synced = synced_gen;
    f->failed = failed_gen;
    f->answers++;
}

hf_syncer *start(fixture *f, uint64_t min_gap_ms)
{
    std::string err;
    hf_syncer *s = hf_syncer_start(f->base, {fake_commit, fake_sync, on_synced, f}, min_gap_ms, &err);
    assert_non_null(s);
    return s;
}

// Runs the reactor until the syncer has answered up to gen (at most 5 s).
void run_until_synced(fixture *f, uint64_t gen)
{
    for (int i = 0; i < 500 && f->synced < gen; i++) {
        timeval tick = {0, 10000};
        event_base_loopexit(f->base, &tick);
        event_base_dispatch(f->base);
    }
}

void a_request_is_synced_off_the_reactor(void **)
{
    fixture f;
    hf_syncer *s = start(&f, 0);
    hf_syncer_request(s, false);
    assert_int_equal(f.commits, 1); // at once: nothing ran before
    run_until_synced(&f, 1);
    assert_int_equal(f.synced, 1);
    assert_int_equal(f.failed, 0);
    assert_true(f.synced_on_other_thread);
    // Later requests, one commit and sync or more, end covered up to the last.
    hf_syncer_request(s, false);
    hf_syncer_request(s, false);
    run_until_synced(&f, f.commits);
    assert_int_equal(f.synced, f.commits);
    assert_in_range(f.commits, 2, 3);
    assert_int_equal(f.syncs.load(), f.commits);
    hf_syncer_stop(s);
}

void a_failed_sync_is_reported_for_what_it_covered(void **)
{
    fixture f;
    hf_syncer *s = start(&f, 0);
    f.fail_next = 5; // EIO, say
    hf_syncer_request(s, false);
    run_until_synced(&f, 1);
    assert_int_equal(f.failed, 1);
    hf_syncer_request(s, false); // the next one succeeds: failed stays at 1
    run_until_synced(&f, 2);
    assert_int_equal(f.synced, 2);
    assert_int_equal(f.failed, 1);
    hf_syncer_stop(s);
}

void the_gap_gathers_commits_into_one_sync(void **)
{
    fixture f;
    hf_syncer *s = start(&f, 1000);
    hf_syncer_request(s, false);
    run_until_synced(&f, 1); // the first sync goes at once
    for (int i = 0; i < 19; i++)
        hf_syncer_request(s, false); // within the 1 s gap, short of a stall that long
    assert_int_equal(f.commits, 1);  // the writes wait, uncommitted
    run_until_synced(&f, 2);
    assert_int_equal(f.commits, 2); // one commit for the 19, not 19
    assert_int_equal(f.syncs.load(), 2);
    hf_syncer_stop(s);
}

void an_urgent_request_skips_the_gap(void **)
{
    fixture f;
    hf_syncer *s = start(&f, 60000);
    hf_syncer_request(s, false);
    run_until_synced(&f, 1);
    hf_syncer_request(s, false); // waits out the minute
    assert_int_equal(f.commits, 1);
    hf_syncer_request(s, true); // a sender waits: now, with what waited
    assert_int_equal(f.commits, 2);
    run_until_synced(&f, 2);
    assert_int_equal(f.syncs.load(), 2);
    hf_syncer_stop(s);
}

void a_failed_commit_starts_no_sync(void **)
{
    fixture f;
    hf_syncer *s = start(&f, 0);
    f.commit_fails = true;
    hf_syncer_request(s, false);
    assert_int_equal(f.syncs.load(), 0);
    hf_syncer_request(s, false); // the syncer is free for the next
    run_until_synced(&f, 1);
    assert_int_equal(f.syncs.load(), 1);
    hf_syncer_stop(s);
}

void stop_with_nothing_asked_returns(void **)
{
    fixture f;
    hf_syncer *s = start(&f, 10);
    hf_syncer_stop(s);
    assert_int_equal(f.syncs.load(), 0);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_request_is_synced_off_the_reactor),
        cmocka_unit_test(a_failed_sync_is_reported_for_what_it_covered),
        cmocka_unit_test(the_gap_gathers_commits_into_one_sync),
        cmocka_unit_test(an_urgent_request_skips_the_gap),
        cmocka_unit_test(a_failed_commit_starts_no_sync),
        cmocka_unit_test(stop_with_nothing_asked_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
