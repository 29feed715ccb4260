// Unit tests of delivery (core/server/delivery.cc, and the DELIVER_ACK
// rules in devices.cc) on the message path's bench (message_path.h): the
// window, acknowledgements and their repeats, refusals into the
// dead-letter list, messages too large for max_frame, a connection that
// ends (which never counts against a message), a failed fetch, a
// stored message that does not decode, and a store that checks what it
// drops against what was sent (hf_store_ops.ack_sent) and finds its seqs
// forked.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "message_path.h"
#include "proto/build.h"
#include "proto/clock.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

// n messages from pc to the offline phone, ids 1..n, payloads "m1".."mn".
void store_for_phone(bench *b, int n)
{
    test_device *pc = device_online(b, "alice", "pc");
    for (int i = 1; i <= n; i++) {
        device_send_to(pc, "phone", uint64_t(i), "m" + std::to_string(i));
        device_take(pc, HF_MSG_SEND_ACK);
    }
}

// The seqs of the DELIVERs the device has waiting, taken.
std::vector<uint64_t> delivered(test_device *d)
{
    std::vector<uint64_t> seqs;
    while (device_pending(d) > 0)
        seqs.push_back(device_take(d, HF_MSG_DELIVER)->seq);
    return seqs;
}

void send_ack(test_device *d, uint64_t upto)
{
    hf_msg ack = hf_msg_deliver_ack(upto);
    device_send(d, &ack);
}

void the_window_bounds_what_is_unacknowledged(void **)
{
    bench *b = bench_start("delivery = { window = 2; };\n");
    store_for_phone(b, 5);
    test_device *phone = device_online(b, "alice", "phone");
    assert_true(delivered(phone) == (std::vector<uint64_t>{1, 2}));
    send_ack(phone, 1);
    assert_true(delivered(phone) == (std::vector<uint64_t>{3}));
    send_ack(phone, 3); // covers 2 as well
    assert_true(delivered(phone) == (std::vector<uint64_t>{4, 5}));
    send_ack(phone, 5);
    assert_int_equal(device_pending(phone), 0);
    assert_int_equal(b->stats.messages_delivered, 5);
    bench_stop(b);
}

void a_repeated_acknowledgement_changes_nothing(void **)
{
    bench *b = bench_start();
    store_for_phone(b, 2);
    test_device *phone = device_online(b, "alice", "phone");
    assert_int_equal(delivered(phone).size(), 2);
    send_ack(phone, 2);
    send_ack(phone, 2);
    send_ack(phone, 1);
    assert_false(device_cut(phone));
    assert_int_equal(b->stats.messages_delivered, 2);
    bench_stop(b);
}

void an_acknowledgement_past_what_was_sent_is_refused(void **)
{
    bench *b = bench_start();
    store_for_phone(b, 1);
    test_device *phone = device_online(b, "alice", "phone");
    assert_int_equal(delivered(phone).size(), 1);
    send_ack(phone, 9);
    assert_int_equal(device_take(phone, HF_MSG_ERROR)->code, HF_ERR_BAD_ACK);
    assert_true(device_cut(phone));
    bench_stop(b);
}

void what_was_acknowledged_is_not_sent_again(void **)
{
    bench *b = bench_start();
    store_for_phone(b, 5);
    test_device *phone = device_online(b, "alice", "phone");
    assert_int_equal(delivered(phone).size(), 5);
    send_ack(phone, 3);
    device_drop(phone);
    phone = device_online(b, "alice", "phone");
    assert_true(delivered(phone) == (std::vector<uint64_t>{4, 5}));
    bench_stop(b);
}

void a_connection_that_ends_never_counts_against_a_message(void **)
{
    // Phones drop connections many times a day: a message is sent again
    // on every connection until acknowledged, never set aside.
    bench *b = bench_start();
    store_for_phone(b, 1);
    for (int i = 0; i < 8; i++) {
        test_device *phone = device_online(b, "alice", "phone");
        assert_true(delivered(phone) == (std::vector<uint64_t>{1}));
        device_drop(phone);
    }
    test_device *phone = device_online(b, "alice", "phone");
    assert_true(device_take(phone, HF_MSG_DELIVER)->payload == "m1");
    assert_int_equal(b->stats.messages_dead_lettered, 0);
    bench_stop(b);
}

void a_refused_message_goes_to_the_dead_letters_and_the_rest_flows(void **)
{
    bench *b = bench_start();
    store_for_phone(b, 3);
    test_device *phone = device_online(b, "alice", "phone");
    assert_int_equal(delivered(phone).size(), 3);
    hf_msg refusal = hf_msg_deliver_refusal(2, HF_ERR_BAD_FIELD, "cannot parse it");
    device_send(phone, &refusal);
    assert_false(device_cut(phone));
    assert_int_equal(b->stats.messages_dead_lettered, 1);
    assert_int_equal(b->stats.messages_delivered, 1); // 1, acknowledged by the refusal of 2
    // A repeat of the refusal is nothing new.
    device_send(phone, &refusal);
    assert_false(device_cut(phone));
    assert_int_equal(b->stats.messages_dead_lettered, 1);
    // On the next connection only 3 comes again; 2 is in the list.
    device_drop(phone);
    phone = device_online(b, "alice", "phone");
    assert_true(delivered(phone) == (std::vector<uint64_t>{3}));
    bench_stop(b);
}

void a_refusal_must_name_a_code(void **)
{
    bench *b = bench_start();
    store_for_phone(b, 2);
    test_device *phone = device_online(b, "alice", "phone");
    assert_int_equal(delivered(phone).size(), 2);
    hf_msg refusal = hf_msg_deliver_refusal(1, HF_OK, "");
    device_send(phone, &refusal);
    assert_int_equal(device_take(phone, HF_MSG_ERROR)->code, HF_ERR_BAD_FIELD);
    assert_true(device_cut(phone));
    assert_int_equal(b->stats.messages_dead_lettered, 0);
    bench_stop(b);
}

void a_refusal_of_a_seq_not_sent_is_refused(void **)
{
    // Seq 1 was collapsed into seq 2 before the phone came: it gets 2 and
    // 3, and 1 (below what it was sent, never sent) cannot be refused.
    bench *b = bench_start();
    test_device *pc = device_online(b, "alice", "pc");
    for (uint64_t id = 1; id <= 3; id++) {
        hf_msg m = hf_msg_send("phone", id, "x", 0, id < 3 ? "state" : "");
        device_send(pc, &m);
        device_take(pc, HF_MSG_SEND_ACK);
    }
    test_device *phone = device_online(b, "alice", "phone");
    assert_true(delivered(phone) == (std::vector<uint64_t>{2, 3}));
    hf_msg refusal = hf_msg_deliver_refusal(1, HF_ERR_BAD_FIELD, "");
    device_send(phone, &refusal);
    assert_int_equal(device_take(phone, HF_MSG_ERROR)->code, HF_ERR_BAD_ACK);
    assert_int_equal(b->stats.messages_dead_lettered, 0);
    bench_stop(b);
}

void a_message_too_large_for_max_frame_goes_to_the_dead_letters(void **)
{
    // Stored under a larger limits.max_frame than the server now has.
    bench *b = bench_start("limits = { max_frame = \"2k\"; };\n");
    std::string big(4000, 'b');
    hf_store_enqueue_req req{"alice",    "phone",      "pc",
                             1,          nullptr,      reinterpret_cast<const uint8_t *>(big.data()),
                             big.size(), hf_wall_ms(), hf_wall_ms() + 60000};
    b->srv.store(
        &hf_store_ops::enqueue, &req, [](void *, int status, uint64_t, int) { assert_int_equal(status, HF_STORE_OK); },
        nullptr);
    test_device *pc = device_online(b, "alice", "pc");
    device_send_to(pc, "phone", 2, "small");
    test_device *phone = device_online(b, "alice", "phone");
    const hf_msg *deliver = device_take(phone, HF_MSG_DELIVER);
    assert_true(deliver->payload == "small" && deliver->seq == 2);
    assert_int_equal(b->stats.messages_dead_lettered, 1);
    bench_stop(b);
}

void a_failed_fetch_is_tried_again_after_store_retry(void **)
{
    bench *b = bench_start("delivery = { store_retry = \"20ms\"; };\n");
    store_for_phone(b, 1);
    b->gate.fail_fetch = HF_STORE_UNAVAILABLE;
    test_device *phone = device_online(b, "alice", "phone");
    assert_int_equal(device_pending(phone), 0);
    bench_run_for(b, 100);
    assert_true(delivered(phone) == (std::vector<uint64_t>{1}));
    bench_stop(b);
}

void a_message_that_does_not_decode_stops_the_queue(void **)
{
    bench *b = bench_start();
    store_for_phone(b, 2);
    b->gate.fail_fetch = HF_STORE_UNDECODABLE;
    test_device *phone = device_online(b, "alice", "phone");
    test_device *pc = device_online(b, "alice", "pc");
    device_send_to(pc, "phone", 9, "more"); // new data does not start it again
    assert_int_equal(device_pending(phone), 0);
    assert_int_equal(b->stats.queue_stops, 1);
    // Nothing was deleted: a new connection reads the queue again.
    device_drop(phone);
    phone = device_online(b, "alice", "phone");
    assert_true(delivered(phone) == (std::vector<uint64_t>{1, 2, 3}));
    bench_stop(b);
}

// A store whose seqs can fork is told what the device was sent as each
// seq it acknowledged. Where it holds another message, it keeps it and the
// device is cut; connecting again, the device is sent it (docs/faults.md,
// N6: before, the store dropped the kept message by its seq, unseen).
void a_forked_store_keeps_what_the_device_was_not_sent(void **)
{
    bench *b = bench_start();
    gate_check_acks(b);
    store_for_phone(b, 3);
    test_device *phone = device_online(b, "alice", "phone");
    assert_true(delivered(phone) == (std::vector<uint64_t>{1, 2, 3}));
    send_ack(phone, 1);
    assert_int_equal(b->gate.acks_sent.size(), 1);
    assert_string_equal(b->gate.acks_sent[0].c_str(), "1:pc:1\n");
    b->gate.fork_at = 2; // the store holds another message as seq 2
    send_ack(phone, 3);
    assert_int_equal(b->gate.acks_sent.size(), 2);
    assert_string_equal(b->gate.acks_sent[1].c_str(), "2:pc:2\n3:pc:3\n");
    const hf_msg *error = device_take(phone, HF_MSG_ERROR);
    assert_int_equal(error->code, HF_ERR_STORE_UNAVAILABLE);
    assert_true(device_cut(phone));
    assert_int_equal(b->stats.seq_mismatches, 1);
    b->gate.fork_at = 0;
    test_device *again = device_online(b, "alice", "phone");
    assert_true(delivered(again) == (std::vector<uint64_t>{2, 3}));
    send_ack(again, 3);
    assert_string_equal(b->gate.acks_sent.back().c_str(), "2:pc:2\n3:pc:3\n");
    assert_int_equal(device_pending(again), 0);
    assert_false(device_cut(again));
    bench_stop(b);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_window_bounds_what_is_unacknowledged),
        cmocka_unit_test(a_repeated_acknowledgement_changes_nothing),
        cmocka_unit_test(an_acknowledgement_past_what_was_sent_is_refused),
        cmocka_unit_test(what_was_acknowledged_is_not_sent_again),
        cmocka_unit_test(a_connection_that_ends_never_counts_against_a_message),
        cmocka_unit_test(a_refused_message_goes_to_the_dead_letters_and_the_rest_flows),
        cmocka_unit_test(a_refusal_must_name_a_code),
        cmocka_unit_test(a_refusal_of_a_seq_not_sent_is_refused),
        cmocka_unit_test(a_message_too_large_for_max_frame_goes_to_the_dead_letters),
        cmocka_unit_test(a_failed_fetch_is_tried_again_after_store_retry),
        cmocka_unit_test(a_message_that_does_not_decode_stops_the_queue),
        cmocka_unit_test(a_forked_store_keeps_what_the_device_was_not_sent),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
