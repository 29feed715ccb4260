// Unit tests of the LMDB store's group transaction, against a real LMDB environment
// in a throwaway folder and a host of the test's own: reads see what a
// pass applied before it is committed, the host hears each message's seq
// at once, a sender waiting for "stored" skips the sync interval, and a
// group transaction that fails to commit (the file size limit makes its page writes
// fail) gives none of its seqs again.
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <event2/event.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "handoff/module.h"
#include "modules/common/record.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

extern "C" int handoff_module_init(const hf_host_api *host, hf_module_info *info);

namespace
{

struct host_state {
    event_base *base = event_base_new();
    std::vector<uint64_t> applied; // seqs, as enqueue_applied heard them
    int sender_waits = 0;          // what enqueue_applied answers
    int errors_logged = 0;
};

void host_log(void *host, int level, const char *, const char *, ...)
{
    if (level == HF_LOG_ERROR)
        static_cast<host_state *>(host)->errors_logged++;
}

event_base *host_base(void *host)
{
    return static_cast<host_state *>(host)->base;
}

uint64_t host_now(void *)
{
    using namespace std::chrono;
    return uint64_t(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

void host_data_ready(void *, const char *, const char *) {}

int host_applied(void *host, void *, uint64_t seq)
{
    auto *h = static_cast<host_state *>(host);
    h->applied.push_back(seq);
    return h->sender_waits;
}

struct answer {
    bool came = false;
    int status = -1;
    uint64_t seq = 0;
};

void on_enqueued(void *arg, int status, uint64_t seq, int)
{
    auto *a = static_cast<answer *>(arg);
    a->came = true;
    a->status = status;
    a->seq = seq;
}

struct fetched {
    std::vector<uint64_t> seqs;
};

void on_fetched(void *arg, int, const hf_store_msg *msgs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        static_cast<fetched *>(arg)->seqs.push_back(msgs[i].seq);
}

void on_devices(void *arg, int, const char *const *devices, size_t count)
{
    auto *names = static_cast<std::vector<std::string> *>(arg);
    for (size_t i = 0; i < count; i++)
        names->push_back(devices[i]);
}

void on_done(void *, int) {}

struct fixture {
    host_state host;
    hf_host_api api{};
    const hf_store_ops *ops = nullptr;
    void *store = nullptr;
    char dir[64] = "/tmp/handoff-test-lmdb.XXXXXX";
    hf_store_params params{1000, 64 << 20, 3600000, "test", 1024, 1000000, uint64_t(1) << 30};
    int64_t sync_interval_ms;

    // A store with sync = batch and the given interval.
    explicit fixture(int64_t sync_interval, uint64_t account_max_messages = 1000000) : sync_interval_ms(sync_interval)
    {
        params.account_max_messages = account_max_messages;
        assert_non_null(mkdtemp(dir));
        api.abi_version = HF_MODULE_ABI_VERSION;
        api.host = &host;
        api.log = host_log;
        api.event_base = host_base;
        api.now_ms = host_now;
        api.data_ready = host_data_ready;
        api.enqueue_applied = host_applied;
        hf_module_info info{};
        assert_int_equal(handoff_module_init(&api, &info), 0);
        ops = static_cast<const hf_store_ops *>(info.ops);
        assert_int_equal(info.setting_count, 8);
        open();
    }

    void open()
    {
        // In the module's settings order: path, map_size, sync,
        // sync_interval, tail_cache, reserve, preallocate, sync_timeout.
        hf_setting_value values[] = {{0, dir},           {64 << 20, nullptr}, {0, "batch"}, {sync_interval_ms, nullptr},
                                     {1 << 20, nullptr}, {25, nullptr},       {1, nullptr}, {10000, nullptr}};
        char err[256] = "";
        assert_int_equal(ops->open(&api, &params, values, &store, err, sizeof err), 0);
    }

    ~fixture()
    {
        if (store)
            ops->close(store);
        event_base_free(host.base);
        std::string rm = std::string("rm -rf ") + dir;
        (void)!system(rm.c_str());
    }

    void enqueue(uint64_t msg_id, const std::string &payload, answer *a, const char *account = "alice",
                 const char *device = "phone")
    {
        hf_store_enqueue_req req{account,
                                 device,
                                 "pc",
                                 msg_id,
                                 nullptr,
                                 reinterpret_cast<const uint8_t *>(payload.data()),
                                 payload.size(),
                                 host_now(nullptr),
                                 host_now(nullptr) + 3600000};
        ops->enqueue(store, &req, on_enqueued, a);
    }

    // The status of one enqueue, once committed.
    int enqueue_now(uint64_t msg_id, const char *account, const char *device)
    {
        answer a;
        enqueue(msg_id, "12345", &a, account, device);
        run(5000, &a);
        assert_true(a.came);
        return a.status;
    }

    // Runs the reactor for about ms milliseconds, or until the answer came.
    void run(int ms, const answer *until = nullptr)
    {
        for (int i = 0; i < ms / 10 && !(until && until->came); i++) {
            timeval tick = {0, 10000};
            event_base_loopexit(host.base, &tick);
            event_base_dispatch(host.base);
        }
    }

    std::vector<uint64_t> fetch_all()
    {
        fetched f;
        ops->fetch(store, "alice", "phone", 0, 100, 1 << 20, host_now(nullptr), on_fetched, &f);
        return f.seqs;
    }
};

void reads_see_the_window_before_it_commits(void **)
{
    fixture f(60000); // after the first sync, none for a minute
    answer first, second;
    f.enqueue(1, "one", &first);
    f.run(5000, &first); // the first sync goes at once
    assert_int_equal(first.status, HF_STORE_OK);
    f.ops->add_device(f.store, "alice", "tablet", on_done, nullptr);
    f.enqueue(2, "two", &second);
    f.run(100);
    // Applied and shown, not yet committed: no answer, but the seq is known.
    assert_false(second.came);
    assert_int_equal(f.host.applied.size(), 2);
    assert_int_equal(f.host.applied[1], 2);
    assert_true((f.fetch_all() == std::vector<uint64_t>{1, 2}));
    std::vector<std::string> devices;
    f.ops->list_devices(f.store, "alice", on_devices, &devices);
    assert_true((devices == std::vector<std::string>{"tablet"}));
    // Closing commits and syncs what the group transaction held, and answers it.
    f.ops->close(f.store);
    f.store = nullptr;
    assert_true(second.came);
    assert_int_equal(second.status, HF_STORE_OK);
    assert_int_equal(second.seq, 2);
}

void a_waiting_sender_skips_the_interval(void **)
{
    fixture f(60000);
    answer first, second;
    f.enqueue(1, "one", &first);
    f.run(5000, &first);
    f.host.sender_waits = 1; // the target is not connected: "stored" waits
    f.enqueue(2, "two", &second);
    f.run(5000, &second);
    assert_true(second.came); // well within the minute
    assert_int_equal(second.status, HF_STORE_OK);
}

void a_failed_window_gives_no_seq_again(void **)
{
    fixture f(0);
    f.host.sender_waits = 1;
    answer first, lost, after;
    f.enqueue(1, "one", &first);
    f.run(5000, &first);
    assert_int_equal(first.status, HF_STORE_OK);
    // The next group transaction's pages cannot be written past the file's end.
    std::string data = std::string(f.dir) + "/data.mdb";
    struct stat st;
    assert_int_equal(stat(data.c_str(), &st), 0);
    signal(SIGXFSZ, SIG_IGN);
    rlimit was;
    getrlimit(RLIMIT_FSIZE, &was);
    rlimit cap = {rlim_t(st.st_size), was.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &cap), 0);
    f.enqueue(2, std::string(256 << 10, 'x'), &lost); // overflow pages: new ones
    f.run(5000, &lost);
    setrlimit(RLIMIT_FSIZE, &was);
    assert_true(lost.came);
    assert_int_not_equal(lost.status, HF_STORE_OK);
    assert_true(f.host.errors_logged > 0);
    assert_int_equal(f.host.applied.back(), 2); // seq 2 was shown, then lost
    // Seq 2 may have been sent and be acknowledged later: it is not given again.
    f.enqueue(3, "three", &after);
    f.run(5000, &after);
    assert_int_equal(after.status, HF_STORE_OK);
    assert_int_equal(after.seq, 3);
    assert_true((f.fetch_all() == std::vector<uint64_t>{1, 3}));
}

// A record that does not decode ends a fetch before it, never past it:
// the queue stops there (HF_STORE_UNDECODABLE once it is first), and
// nothing after it is delivered, so nothing can acknowledge it away.
void a_fetch_stops_at_a_record_that_does_not_decode(void **)
{
    std::string payload = "ok";
    hf_store_enqueue_req req{
        "alice",        "phone", "pc",      1, nullptr, reinterpret_cast<const uint8_t *>(payload.data()),
        payload.size(), 1,       UINT64_MAX};
    std::string good = hf_record_encode(&req), bad = "not a record";
    hf_fetch_batch b{100, 1 << 20, 2, 0, {}, {}};
    assert_true(b.take(1, good.data(), good.size()));
    assert_false(b.take(2, bad.data(), bad.size()));
    assert_int_equal(b.out.size(), 1);
    assert_int_equal(b.undecodable_seq, 2);
    assert_int_equal(b.status(), HF_STORE_OK); // what came before it
    hf_fetch_batch next{100, 1 << 20, 2, 0, {}, {}};
    assert_false(next.take(2, bad.data(), bad.size()));
    assert_int_equal(next.status(), HF_STORE_UNDECODABLE);
}

struct pairs_seen {
    std::vector<std::string> keys; // "account/device"
};

void on_each_device(void *arg, int status, const char *const *accounts, const char *const *devices, size_t count)
{
    assert_int_equal(status, HF_STORE_OK);
    for (size_t i = 0; i < count; i++)
        static_cast<pairs_seen *>(arg)->keys.push_back(std::string(accounts[i]) + "/" + devices[i]);
}

void on_moved(void *arg, int status)
{
    *static_cast<int *>(arg) = status;
}

void on_revocation(void *arg, int, uint64_t not_before_ms, int)
{
    *static_cast<uint64_t *>(arg) = not_before_ms;
}

// A workers change: a device's queue (with its seqs), its record and
// revocation, and its dedup records go to the other environment, and
// nothing of it stays behind.
void a_device_moves_whole_to_another_environment(void **)
{
    fixture from(0), to(0);
    from.host.sender_waits = to.host.sender_waits = 1;
    answer one, two;
    from.enqueue(1, "one", &one);
    from.enqueue(2, "two", &two);
    from.run(5000, &two);
    from.ops->ack(from.store, "alice", "phone", one.seq, on_done, nullptr);
    from.ops->add_device(from.store, "alice", "tablet", on_done, nullptr);
    from.ops->set_revocation(from.store, "alice", "tablet", 123, 0, on_done, nullptr);
    from.run(100);
    pairs_seen before;
    from.ops->each_device(from.store, "", "", 10, on_each_device, &before);
    assert_true((before.keys == std::vector<std::string>{"alice/phone", "alice/tablet"}));
    pairs_seen paged; // one a page: after the first, the second
    from.ops->each_device(from.store, "alice", "phone", 1, on_each_device, &paged);
    assert_true((paged.keys == std::vector<std::string>{"alice/tablet"}));
    int moved[2] = {-1, -1};
    from.ops->move_device(from.store, to.store, "alice", "phone", on_moved, &moved[0]);
    from.ops->move_device(from.store, to.store, "alice", "tablet", on_moved, &moved[1]);
    for (int i = 0; i < 500 && (moved[0] < 0 || moved[1] < 0); i++) {
        to.run(10);
        from.run(10);
    }
    assert_int_equal(moved[0], HF_STORE_OK);
    assert_int_equal(moved[1], HF_STORE_OK);
    assert_true((to.fetch_all() == std::vector<uint64_t>{two.seq}));
    std::vector<std::string> devices;
    to.ops->list_devices(to.store, "alice", on_devices, &devices);
    assert_true((devices == std::vector<std::string>{"tablet"}));
    uint64_t not_before = 0;
    to.ops->revocation(to.store, "alice", "tablet", on_revocation, &not_before);
    assert_int_equal(not_before, 123);
    answer resent, next;
    to.enqueue(2, "two", &resent); // a resend is known there too
    to.enqueue(3, "three", &next); // and seqs go on from the queue's
    to.run(5000, &next);
    assert_int_equal(resent.status, HF_STORE_DUPLICATE);
    assert_int_equal(next.seq, two.seq + 1);
    pairs_seen left;
    from.ops->each_device(from.store, "", "", 10, on_each_device, &left);
    assert_true(left.keys.empty());
    assert_true(from.fetch_all().empty());
}

// Every queue of an account counts against its quota, other accounts'
// not; the count is read again from what is stored when the store opens,
// and an acknowledgement gives room back.
void the_account_quota_counts_every_queue_and_survives_a_restart(void **)
{
    fixture f(0, 3);
    f.host.sender_waits = 1;
    assert_int_equal(f.enqueue_now(1, "alice", "phone"), HF_STORE_OK);
    assert_int_equal(f.enqueue_now(2, "alice", "phone"), HF_STORE_OK);
    assert_int_equal(f.enqueue_now(3, "alice", "tablet"), HF_STORE_OK);
    assert_int_equal(f.enqueue_now(4, "alice", "tablet"), HF_STORE_ACCOUNT_FULL);
    assert_int_equal(f.enqueue_now(5, "bob", "phone"), HF_STORE_OK);
    std::vector<std::string> queued;
    f.ops->queued_devices(f.store, "alice", on_devices, &queued);
    std::sort(queued.begin(), queued.end());
    assert_true((queued == std::vector<std::string>{"phone", "tablet"}));
    f.ops->close(f.store);
    f.open();
    assert_int_equal(f.enqueue_now(6, "alice", "laptop"), HF_STORE_ACCOUNT_FULL);
    f.ops->ack(f.store, "alice", "phone", 2, on_done, nullptr);
    assert_int_equal(f.enqueue_now(7, "alice", "laptop"), HF_STORE_OK);
    queued.clear();
    f.ops->queued_devices(f.store, "alice", on_devices, &queued);
    std::sort(queued.begin(), queued.end());
    assert_true((queued == std::vector<std::string>{"laptop", "tablet"}));
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_see_the_window_before_it_commits),
        cmocka_unit_test(a_waiting_sender_skips_the_interval),
        cmocka_unit_test(a_failed_window_gives_no_seq_again),
        cmocka_unit_test(a_fetch_stops_at_a_record_that_does_not_decode),
        cmocka_unit_test(a_device_moves_whole_to_another_environment),
        cmocka_unit_test(the_account_quota_counts_every_queue_and_survives_a_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
