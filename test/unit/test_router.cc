// Unit tests of the router (core/server/router.cc): every SEND_ACK
// outcome, from a device's SEND and from an API call, on the message
// path's bench (message_path.h: the server part, store_memory behind a
// gate, devices on bufferevent pairs). Delivered only once the target
// acknowledged, stored only once the store made it durable, each
// rejection with its code, resends told apart.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "message_path.h"
#include "proto/build.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

// Acknowledgements settle senders at once unless a test says otherwise.
const char *const at_once = "delivery = { ack_batch = \"0ms\"; };\n";

uint64_t acknowledge(test_device *d)
{
    const hf_msg *deliver = device_take(d, HF_MSG_DELIVER);
    uint64_t seq = deliver->seq;
    hf_msg ack = hf_msg_deliver_ack(seq);
    device_send(d, &ack);
    return seq;
}

void delivered_once_the_target_acknowledges(void **)
{
    bench *b = bench_start(at_once);
    test_device *pc = device_online(b, "alice", "pc");
    test_device *phone = device_online(b, "alice", "phone");
    device_send_to(pc, "phone", 1, "bookmark");
    const hf_msg *deliver = device_take(phone, HF_MSG_DELIVER);
    assert_true(deliver->payload == "bookmark" && deliver->from == "pc" && deliver->id == 1);
    assert_int_equal(device_pending(pc), 0); // nothing said before the target acknowledges
    hf_msg ack = hf_msg_deliver_ack(deliver->seq);
    device_send(phone, &ack);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_DELIVERED, HF_OK, 1, 0, 0);
    bench_stop(b);
}

void acknowledgements_are_gathered_for_ack_batch(void **)
{
    bench *b = bench_start("delivery = { ack_batch = \"30ms\"; };\n");
    test_device *pc = device_online(b, "alice", "pc");
    test_device *phone = device_online(b, "alice", "phone");
    device_send_to(pc, "phone", 1, "a");
    acknowledge(phone);
    assert_int_equal(device_pending(pc), 0); // gathered, not answered yet
    bench_run_for(b, 100);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_DELIVERED, HF_OK, 1, 0, 0);
    bench_stop(b);
}

void stored_for_a_target_that_is_not_online(void **)
{
    bench *b = bench_start(at_once);
    test_device *pc = device_online(b, "alice", "pc");
    device_send_to(pc, "tablet", 7, "later");
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 7, HF_SEND_STORED, HF_OK, 0, 1, 0);
    test_device *tablet = device_online(b, "alice", "tablet");
    assert_true(device_take(tablet, HF_MSG_DELIVER)->payload == "later");
    bench_stop(b);
}

void stored_is_said_only_once_the_store_made_it_durable(void **)
{
    bench *b = bench_start(at_once);
    b->gate.hold = true;
    test_device *pc = device_online(b, "alice", "pc");
    device_send_to(pc, "tablet", 1, "x");
    assert_int_equal(device_pending(pc), 0); // in the queue, not durable: no answer
    gate_release(b);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_STORED, HF_OK, 0, 1, 0);
    bench_stop(b);
}

void a_target_may_acknowledge_before_the_store_is_durable(void **)
{
    // The store's enqueue_applied: the message is in the queue and sent
    // before the sync; the target's acknowledgement answers the sender.
    bench *b = bench_start(at_once);
    b->gate.hold = true;
    test_device *pc = device_online(b, "alice", "pc");
    test_device *phone = device_online(b, "alice", "phone");
    device_send_to(pc, "phone", 1, "x");
    acknowledge(phone);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_DELIVERED, HF_OK, 1, 0, 0);
    gate_release(b);
    assert_int_equal(device_pending(pc), 0); // answered once
    bench_stop(b);
}

// The store says a message is seq 1 while the target was sent another
// message as seq 1 (a Redis primary cut off from the others numbers on
// while its promoted replica numbers the same seqs): the target's
// acknowledgement of seq 1 is not this message's delivery. Before the
// check the sender heard "delivered" at once and the message was lost
// (test/nemesis).
void an_acknowledged_seq_delivers_only_the_message_sent_as_it(void **)
{
    bench *b = bench_start(at_once);
    b->gate.hold = true;
    test_device *pc = device_online(b, "alice", "pc");
    test_device *phone = device_online(b, "alice", "phone");
    device_send_to(pc, "phone", 1, "first");
    const hf_msg *deliver = device_take(phone, HF_MSG_DELIVER);
    assert_int_equal(deliver->seq, 1);
    b->gate.applied_shift = -1; // the next message is said to be seq 1 too
    device_send_to(pc, "phone", 2, "forked");
    hf_msg ack = hf_msg_deliver_ack(1);
    device_send(phone, &ack);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_DELIVERED, HF_OK, 1, 0, 0);
    assert_int_equal(device_pending(pc), 0); // not id 2: the phone never saw it
    assert_int_equal(b->stats.seq_mismatches, 1);
    b->gate.applied_shift = 0;
    gate_release(b);
    deliver = device_take(phone, HF_MSG_DELIVER);
    assert_true(deliver->payload == "forked" && deliver->seq == 2);
    ack = hf_msg_deliver_ack(2);
    device_send(phone, &ack);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 2, HF_SEND_DELIVERED, HF_OK, 1, 0, 0);
    bench_stop(b);
}

// A target that refuses a message (DELIVER_ACK with a code: it cannot
// decrypt a push, say) sends it to its dead letters: its sender hears
// "stored", and the target's next cumulative acknowledgement, which
// passes over the refused seq, is no fork. Before, that acknowledgement
// counted a seq mismatch (handoff_seq_mismatches_total, the split-brain
// signal) and logged the store as having numbered two messages alike.
void a_refused_message_is_stored_and_no_fork(void **)
{
    bench *b = bench_start(at_once);
    test_device *pc = device_online(b, "alice", "pc");
    test_device *phone = device_online(b, "alice", "phone");
    device_send_to(pc, "phone", 1, "unreadable");
    device_send_to(pc, "phone", 2, "readable");
    uint64_t refused = device_take(phone, HF_MSG_DELIVER)->seq;
    uint64_t next = device_take(phone, HF_MSG_DELIVER)->seq;
    hf_msg refusal = hf_msg_deliver_refusal(refused, HF_ERR_BAD_FIELD, "does not decrypt");
    device_send(phone, &refusal);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_STORED, HF_OK, 0, 1, 0);
    hf_msg ack = hf_msg_deliver_ack(next);
    device_send(phone, &ack);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 2, HF_SEND_DELIVERED, HF_OK, 1, 0, 0);
    assert_int_equal(b->stats.seq_mismatches, 0);
    bench_stop(b);
}

// A device whose add to its account failed (the store away for a moment)
// is added again after delivery.store_retry: before, it stayed off the
// account's list until its next HELLO, and every '*' send skipped it
// (the nemesis, a server slow under the sanitizers).
void a_device_whose_add_failed_is_added_again_and_gets_star_sends(void **)
{
    bench *b = bench_start("delivery = { ack_batch = \"0ms\"; store_retry = \"20ms\"; };\n");
    test_device *pc = device_online(b, "alice", "pc");
    b->gate.fail_add = HF_STORE_UNAVAILABLE;
    test_device *phone = device_online(b, "alice", "phone");
    bench_run_for(b, 60);
    device_send_to(pc, "*", 1, "to all");
    assert_true(device_take(phone, HF_MSG_DELIVER)->payload == "to all");
    bench_stop(b);
}

void stored_when_the_target_is_silent_for_ack_wait(void **)
{
    bench *b = bench_start("delivery = { ack_batch = \"0ms\"; ack_wait = \"20ms\"; };\n");
    test_device *pc = device_online(b, "alice", "pc");
    test_device *phone = device_online(b, "alice", "phone");
    device_send_to(pc, "phone", 1, "x");
    device_take(phone, HF_MSG_DELIVER);
    assert_int_equal(device_pending(pc), 0);
    bench_run_for(b, 80);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_STORED, HF_OK, 0, 1, 0);
    bench_stop(b);
}

void stored_when_the_target_goes_away_unacknowledged(void **)
{
    bench *b = bench_start(at_once);
    test_device *pc = device_online(b, "alice", "pc");
    test_device *phone = device_online(b, "alice", "phone");
    device_send_to(pc, "phone", 1, "x");
    device_take(phone, HF_MSG_DELIVER);
    device_drop(phone);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_STORED, HF_OK, 0, 1, 0);
    bench_stop(b);
}

void every_other_device_counts_in_one_answer(void **)
{
    bench *b = bench_start(at_once);
    test_device *tablet = device_online(b, "alice", "tablet"); // known to the account, then gone
    device_drop(tablet);
    test_device *pc = device_online(b, "alice", "pc");
    test_device *phone = device_online(b, "alice", "phone");
    device_send_to(pc, "*", 1, "x");
    acknowledge(phone);
    // Stored: not every target has it yet.
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_STORED, HF_OK, 1, 1, 0);
    assert_int_equal(device_pending(pc), 0); // the sender is not a target
    bench_stop(b);
}

void no_other_device_is_no_target(void **)
{
    bench *b = bench_start(at_once);
    test_device *pc = device_online(b, "alice", "pc");
    device_send_to(pc, "*", 1, "x");
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_REJECTED, HF_ERR_NO_TARGET, 0, 0, 1);
    bench_stop(b);
}

// A SEND the router refuses before any store work: its code, and no
// counts (nothing was tried).
void expect_refused(test_device *pc, hf_msg *m, int code)
{
    device_send(pc, m);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), m->id, HF_SEND_REJECTED, code, 0, 0, 0);
    assert_false(device_cut(pc)); // an answer, not a close
}

void refused_sends_say_why(void **)
{
    bench *b = bench_start(at_once);
    test_device *pc = device_online(b, "alice", "pc");
    hf_msg m = hf_msg_send("a/b/c", 1, "x", 0, "");
    expect_refused(pc, &m, HF_ERR_BAD_TARGET);
    m = hf_msg_send("no spaces", 2, "x", 0, "");
    expect_refused(pc, &m, HF_ERR_BAD_TARGET);
    m = hf_msg_send("bob/phone", 3, "x", 0, "");
    expect_refused(pc, &m, HF_ERR_FORBIDDEN);
    m = hf_msg_send("phone", 4, "x", 0, "");
    m.ttl = 0;
    hf_msg_set(&m, HF_TAG_TTL);
    expect_refused(pc, &m, HF_ERR_BAD_FIELD);
    m = hf_msg_send("phone", 5, "x", uint64_t(b->cfg.max_ttl_ms) / 1000 + 1, "");
    expect_refused(pc, &m, HF_ERR_TTL_TOO_LONG);
    std::string too_large(size_t(b->cfg.max_frame) - HF_DELIVER_RESERVE + 1, 'p');
    m = hf_msg_send("phone", 6, too_large, 0, "");
    expect_refused(pc, &m, HF_ERR_PAYLOAD_TOO_LARGE);
    // alice/phone is the sender's own account: taken.
    device_send_to(pc, "alice/phone", 8, "x");
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 8, HF_SEND_STORED, HF_OK, 0, 1, 0);
    bench_stop(b);
}

// Under limits: the first SEND to the offline tablet is stored, the
// second refused with code; rejected counts the copy refused (0 when the
// SEND was refused before any store work). The second's SEND_ACK.
const hf_msg *second_refused(bench *b, int code, uint64_t rejected)
{
    test_device *pc = device_online(b, "alice", "pc");
    device_send_to(pc, "tablet", 1, "x");
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_STORED, HF_OK, 0, 1, 0);
    device_send_to(pc, "tablet", 2, "x");
    const hf_msg *ack = device_take(pc, HF_MSG_SEND_ACK);
    assert_send_ack(ack, 2, HF_SEND_REJECTED, code, 0, 0, rejected);
    return ack;
}

void a_sender_past_its_rate_is_told_when_to_resend(void **)
{
    bench *b = bench_start(std::string(at_once) + "limits = { send_rate = 1; send_burst = 1; };\n");
    assert_true(second_refused(b, HF_ERR_RATE_LIMITED, 0)->retry_ms > 0);
    bench_stop(b);
}

void a_full_queue_refuses_the_copy(void **)
{
    bench *b = bench_start(std::string(at_once) + "limits = { queue_max_messages = 1; };\n");
    // A full queue drains only as its device reads: no retry_ms.
    assert_false(hf_msg_has(second_refused(b, HF_ERR_QUEUE_FULL, 1), HF_TAG_RETRY_MS));
    bench_stop(b);
}

void a_connection_may_leave_only_so_many_sends_unanswered(void **)
{
    // Each SEND waiting for its SEND_ACK holds its payload: past
    // limits.max_unanswered_sends the next is refused until some are
    // answered. On 8f1a768 a device could leave any number waiting.
    bench *b = bench_start("limits = { max_unanswered_sends = 2; };\n"
                           "delivery = { ack_batch = \"0ms\"; ack_wait = \"5s\"; };\n");
    test_device *pc = device_online(b, "alice", "pc");
    test_device *phone = device_online(b, "alice", "phone"); // online and silent
    device_send_to(pc, "phone", 1, "a");
    device_send_to(pc, "phone", 2, "b");
    device_send_to(pc, "phone", 3, "c");
    const hf_msg *ack = device_take(pc, HF_MSG_SEND_ACK);
    assert_send_ack(ack, 3, HF_SEND_REJECTED, HF_ERR_RATE_LIMITED, 0, 0, 0);
    assert_int_equal(ack->retry_ms, 5000);
    assert_true(ack->text.find("limits.max_unanswered_sends") != std::string_view::npos);
    acknowledge(phone); // 1
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_DELIVERED, HF_OK, 1, 0, 0);
    device_send_to(pc, "phone", 3, "c");
    assert_int_equal(device_pending(pc), 0); // taken: it waits for the phone
    assert_int_equal(b->conns.limits.hits[int(hf_limit::unanswered_sends)], 1);
    bench_stop(b);
}

void unknown_devices_are_refused_when_configured(void **)
{
    bench *b = bench_start("delivery = { ack_batch = \"0ms\"; unknown_devices = \"reject\"; };\n");
    test_device *tablet = device_online(b, "alice", "tablet");
    device_drop(tablet);
    test_device *pc = device_online(b, "alice", "pc");
    device_send_to(pc, "ghost", 1, "x");
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 1, HF_SEND_REJECTED, HF_ERR_UNKNOWN_DEVICE, 0, 0, 1);
    device_send_to(pc, "tablet", 2, "x");
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 2, HF_SEND_STORED, HF_OK, 0, 1, 0);
    bench_stop(b);
}

void a_store_that_is_full_or_away_says_when_to_retry(void **)
{
    bench *b = bench_start("delivery = { ack_batch = \"0ms\"; store_retry = \"3s\"; };\n");
    test_device *pc = device_online(b, "alice", "pc");
    const int statuses[] = {HF_STORE_FULL, HF_STORE_UNAVAILABLE, HF_STORE_ERROR};
    const int codes[] = {HF_ERR_STORE_FULL, HF_ERR_STORE_UNAVAILABLE, HF_ERR_INTERNAL};
    for (size_t i = 0; i < 3; i++) {
        b->gate.fail_enqueue = statuses[i];
        device_send_to(pc, "tablet", i + 1, "x");
        const hf_msg *ack = device_take(pc, HF_MSG_SEND_ACK);
        assert_send_ack(ack, i + 1, HF_SEND_REJECTED, codes[i], 0, 0, 1);
        assert_int_equal(hf_msg_has(ack, HF_TAG_RETRY_MS) ? ack->retry_ms : 0, codes[i] == HF_ERR_INTERNAL ? 0 : 3000);
    }
    // The device list is the store's too.
    b->gate.fail_enqueue = HF_STORE_OK;
    b->gate.fail_list = HF_STORE_UNAVAILABLE;
    device_send_to(pc, "*", 9, "x");
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 9, HF_SEND_REJECTED, HF_ERR_STORE_UNAVAILABLE, 0, 0, 1);
    assert_int_equal(b->stats.messages_rejected[HF_ERR_STORE_UNAVAILABLE], 2);
    bench_stop(b);
}

void a_resend_is_stored_once_and_answered_as_the_first(void **)
{
    bench *b = bench_start(at_once);
    test_device *pc = device_online(b, "alice", "pc");
    device_send_to(pc, "tablet", 5, "x");
    device_send_to(pc, "tablet", 5, "x");
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 5, HF_SEND_STORED, HF_OK, 0, 1, 0);
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 5, HF_SEND_STORED, HF_OK, 0, 1, 0);
    test_device *tablet = device_online(b, "alice", "tablet");
    acknowledge(tablet);
    assert_int_equal(device_pending(tablet), 0); // one copy
    // Once acknowledged, the resend hears "delivered".
    device_send_to(pc, "tablet", 5, "x");
    assert_send_ack(device_take(pc, HF_MSG_SEND_ACK), 5, HF_SEND_DELIVERED, HF_OK, 1, 0, 0);
    assert_int_equal(device_pending(tablet), 0);
    bench_stop(b);
}

struct api_answers {
    std::vector<hf_send_outcome> outcomes;
};

void record_answer(void *arg, const hf_send_outcome *o)
{
    hf_send_outcome copy = *o;
    copy.text = ""; // valid only during the call
    static_cast<api_answers *>(arg)->outcomes.push_back(copy);
}

void submit(bench *b, api_answers *answers, const char *to, uint64_t id, bool has_collapse = false)
{
    hf_send_request req{"alice", "@ops", to, id, "", "from the API", false, 0, has_collapse};
    hf_router_submit(b->srv.router, &req, record_answer, answers);
    bench_settle(b);
}

void an_api_call_hears_each_outcome_once(void **)
{
    bench *b = bench_start(at_once);
    api_answers answers;
    submit(b, &answers, "tablet", 1);
    assert_int_equal(answers.outcomes.size(), 1);
    assert_int_equal(answers.outcomes[0].status, HF_SEND_STORED);
    assert_int_equal(answers.outcomes[0].stored, 1);
    submit(b, &answers, "a/b", 2);
    assert_int_equal(answers.outcomes.size(), 2);
    assert_int_equal(answers.outcomes[1].status, HF_SEND_REJECTED);
    assert_int_equal(answers.outcomes[1].code, HF_ERR_BAD_TARGET);
    submit(b, &answers, "tablet", 4, true); // an empty collapse key
    assert_int_equal(answers.outcomes.size(), 3);
    assert_int_equal(answers.outcomes[2].code, HF_ERR_BAD_FIELD);
    test_device *phone = device_online(b, "alice", "phone");
    submit(b, &answers, "phone", 3);
    assert_int_equal(answers.outcomes.size(), 3); // waits for the phone
    acknowledge(phone);
    assert_int_equal(answers.outcomes.size(), 4);
    assert_int_equal(answers.outcomes[3].status, HF_SEND_DELIVERED);
    assert_int_equal(answers.outcomes[3].delivered, 1);
    bench_stop(b);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delivered_once_the_target_acknowledges),
        cmocka_unit_test(acknowledgements_are_gathered_for_ack_batch),
        cmocka_unit_test(stored_for_a_target_that_is_not_online),
        cmocka_unit_test(stored_is_said_only_once_the_store_made_it_durable),
        cmocka_unit_test(a_target_may_acknowledge_before_the_store_is_durable),
        cmocka_unit_test(an_acknowledged_seq_delivers_only_the_message_sent_as_it),
        cmocka_unit_test(a_device_whose_add_failed_is_added_again_and_gets_star_sends),
        cmocka_unit_test(stored_when_the_target_is_silent_for_ack_wait),
        cmocka_unit_test(stored_when_the_target_goes_away_unacknowledged),
        cmocka_unit_test(every_other_device_counts_in_one_answer),
        cmocka_unit_test(no_other_device_is_no_target),
        cmocka_unit_test(refused_sends_say_why),
        cmocka_unit_test(a_refused_message_is_stored_and_no_fork),
        cmocka_unit_test(a_sender_past_its_rate_is_told_when_to_resend),
        cmocka_unit_test(a_connection_may_leave_only_so_many_sends_unanswered),
        cmocka_unit_test(unknown_devices_are_refused_when_configured),
        cmocka_unit_test(a_full_queue_refuses_the_copy),
        cmocka_unit_test(a_store_that_is_full_or_away_says_when_to_retry),
        cmocka_unit_test(a_resend_is_stored_once_and_answered_as_the_first),
        cmocka_unit_test(an_api_call_hears_each_outcome_once),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
