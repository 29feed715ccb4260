"""02: sending: stored and delivered, both directions, '*', accounts, dedup, window."""

import json
import os
import subprocess
import time

import harness
import hfwire
from harness import Relay, finish_background


def listen_json(relay, token, *args):
    code, out, err = relay.cli(token, "listen", "--format", "json", *args)
    return code, [json.loads(line) for line in out.splitlines()], err


def test_offline_device_gets_message_when_it_connects():
    relay = Relay().start()
    pc, phone = relay.token("alice", "pc"), relay.token("alice", "phone")
    code, out, err = relay.cli(pc, "send", "--to", "phone", "https://example.org/a")
    assert (code, out) == (0, "stored\n"), (code, out, err)
    code, msgs, err = listen_json(relay, phone, "--count", "1", "--timeout", "10")
    assert code == 0, err
    assert [(m["from"], m["seq"], m["payload"]) for m in msgs] == [("pc", 1, "https://example.org/a")]
    # Acknowledged: a second listener gets nothing more.
    code, msgs, _ = listen_json(relay, phone, "--timeout", "1")
    assert code == 0 and msgs == [], msgs


def test_online_device_gets_message_at_once_both_directions():
    relay = Relay().start()
    pc, phone = relay.token("alice", "pc"), relay.token("alice", "phone")
    for sender, receiver, name in ((pc, phone, "phone"), (phone, pc, "pc")):
        online = "alice/%s online" % name
        before = relay.log().count(online)
        listener = relay.cli_background(receiver, "listen", "--count", "1", "--timeout", "10")
        harness.wait_until(lambda: relay.log().count(online) > before, 10, online)
        code, out, err = relay.cli(sender, "send", "--to", name, "hello " + name)
        assert (code, out) == (0, "delivered\n"), (code, out, err)
        code, out, err = finish_background(listener)
        assert (code, out) == (0, "hello %s\n" % name), (code, out, err)


def test_star_reaches_every_other_device_of_the_account():
    relay = Relay().start()
    tokens = {d: relay.token("alice", d) for d in ("pc", "phone", "tablet")}
    bob = relay.token("bob", "phone")
    # Devices become known to the account when they first connect; a
    # `listen` of half a second ended before its HELLO was taken in the
    # sanitizer build on a Redis Cluster (the send then had no target).
    for token in (tokens["phone"], tokens["tablet"], bob):
        relay.cli(token, "listen", "--timeout", "3")
    code, out, err = relay.cli(tokens["pc"], "send", "--to", "*", "bookmark")
    assert (code, out) == (0, "stored\n"), (code, out, err)
    for d in ("phone", "tablet"):
        code, msgs, _ = listen_json(relay, tokens[d], "--count", "1", "--timeout", "10")
        assert [m["payload"] for m in msgs] == ["bookmark"], (d, msgs)
    code, msgs, _ = listen_json(relay, tokens["pc"], "--timeout", "1")
    assert msgs == [], "the sender must not get its own '*' message"
    code, msgs, _ = listen_json(relay, bob, "--timeout", "1")
    assert msgs == [], "another account must not get alice's '*' message"


def test_star_with_no_other_device_is_rejected():
    relay = Relay().start()
    code, out, err = relay.cli(relay.token("carol", "pc"), "send", "--to", "*", "x")
    assert code == 1 and "no_target" in err, (code, out, err)


def test_devices_of_other_accounts_are_out_of_reach():
    relay = Relay().start()
    alice_phone, bob_pc = relay.token("alice", "phone"), relay.token("bob", "pc")
    relay.cli(alice_phone, "listen", "--timeout", "0.5")
    # "phone" names bob's own phone: alice's never sees it.
    code, out, _ = relay.cli(bob_pc, "send", "--to", "phone", "for bob's phone")
    assert (code, out) == (0, "stored\n")
    code, msgs, _ = listen_json(relay, alice_phone, "--timeout", "1")
    assert msgs == [], msgs
    code, msgs, _ = listen_json(relay, relay.token("bob", "phone"), "--count", "1", "--timeout", "10")
    assert [m["payload"] for m in msgs] == ["for bob's phone"]


def test_sending_to_another_accounts_device_is_forbidden():
    relay = Relay().start()
    bob_pc = relay.token("bob", "pc")
    code, _, err = relay.cli(bob_pc, "send", "--to", "alice/phone", "x")
    assert code == 1 and "forbidden" in err, (code, err)
    # The explicit form with one's own account is the same as the plain name.
    code, out, _ = relay.cli(bob_pc, "send", "--to", "bob/phone", "mine")
    assert (code, out) == (0, "stored\n")
    code, msgs, _ = listen_json(relay, relay.token("bob", "phone"), "--count", "1", "--timeout", "10")
    assert [m["payload"] for m in msgs] == ["mine"]


def test_readme_walkthrough_with_environment():
    relay = Relay().start()
    env = dict(os.environ, HANDOFF_ALLOCATOR="127.0.0.1:%d" % relay.alloc_port, HANDOFF_CA=relay.ca)
    phone = subprocess.Popen([harness.HANDOFF, "listen", "--count", "1", "--token",
                              relay.token("alice", "phone")], env=env, stdout=subprocess.PIPE, text=True)
    harness.wait_until(lambda: "alice/phone online" in relay.log(), 10, "phone online")
    out = subprocess.run([harness.HANDOFF, "send", "--token", relay.token("alice", "pc"), "--to", "phone",
                          "https://example.org/bookmarked"], env=env, capture_output=True, text=True)
    assert (out.returncode, out.stdout) == (0, "delivered\n"), out
    assert phone.communicate(timeout=10)[0] == "https://example.org/bookmarked\n"


def test_resend_with_same_id_is_delivered_once():
    relay = Relay().start()
    sender = relay.conn()
    sender.hello(relay.token("alice", "pc"))
    for _ in range(3):
        sender.send(hfwire.SEND, [("to", "phone"), ("id", 77), ("payload", b"once")])
        ack = sender.expect(hfwire.SEND_ACK)
        assert ack["id"] == 77 and ack["status"] == hfwire.STORED, ack
    receiver = relay.conn()
    receiver.hello(relay.token("alice", "phone"))
    msg = receiver.expect(hfwire.DELIVER)
    assert msg["payload"] == b"once" and msg["id"] == 77 and msg["from"] == "pc", msg
    receiver.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    receiver.send(hfwire.PING, [("id", 5)])
    assert receiver.expect(hfwire.PONG)["id"] == 5, "a second DELIVER came"
    # Once delivered, a resend is answered delivered and not sent again.
    sender.send(hfwire.SEND, [("to", "phone"), ("id", 77), ("payload", b"once")])
    assert sender.expect(hfwire.SEND_ACK)["status"] == hfwire.DELIVERED


def test_resends_are_told_apart_by_the_senders_recent_ids():
    """The store keeps, per sender and target, its newest ids (here 64),
    not a record per message (docs/protocol.md, "Resends")."""
    relay = Relay(**{"delivery.dedup_ids": 64}).start()
    pc = relay.conn()
    pc.hello(relay.quick_token("alice", "pc"))

    def send_all(ids, to="phone"):
        pc.send_raw(b"".join(hfwire.frame(hfwire.SEND, [("to", to), ("id", i), ("payload", b"%d" % i)])
                             for i in ids))
        acks = [pc.expect(hfwire.SEND_ACK) for _ in ids]
        assert all(a["status"] == hfwire.STORED for a in acks), acks

    def stored():
        return relay.metric("handoff_messages_stored_total")

    # Ids counting up from a random point (as the clients start), every
    # third to the tablet: interleaved over targets.
    first = 1 << 40
    ids = list(range(first, first + 100))
    send_all([i for i in ids if i % 3], "phone")
    send_all([i for i in ids if i % 3 == 0], "tablet")
    assert stored() == 100
    # Every resend within 64 ids of the newest is recognised, to each target.
    send_all([i for i in ids[-64:] if i % 3], "phone")
    send_all([i for i in ids[-64:] if i % 3 == 0], "tablet")
    assert stored() == 100
    # An id the phone never had is new to it, though the tablet had it.
    send_all([first + 98], "phone")
    assert stored() == 101
    # Too old to tell (more than 64 below the newest): taken again.
    send_all([first + 1], "phone")
    assert stored() == 102
    # A client that restarts at a lower random point starts afresh, and
    # its own resends are recognised.
    send_all([5, 6, 5, 6], "phone")
    assert stored() == 104
    # Each message stored is delivered, in order; the second copy of
    # first + 1 too, which libhandoff recognises and does not show.
    _, msgs, _ = listen_json(relay, relay.token("alice", "phone"), "--count", "70", "--timeout", "10")
    expected = [i for i in ids if i % 3] + [first + 98, 5, 6]
    assert [int(m["payload"]) for m in msgs] == expected, msgs


def test_window_bounds_unacknowledged_delivers():
    relay = Relay(**{"delivery.window": 4, "delivery.ack_wait": "0ms"}).start()
    sender = relay.conn()
    sender.hello(relay.token("alice", "pc"))
    for i in range(10):
        sender.send(hfwire.SEND, [("to", "phone"), ("id", i + 1), ("payload", b"m%d" % i)])
        assert sender.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    receiver = relay.conn()
    receiver.hello(relay.token("alice", "phone"))
    got = [receiver.expect(hfwire.DELIVER) for _ in range(4)]
    receiver.send(hfwire.PING, [("id", 9)])
    assert receiver.expect(hfwire.PONG)["id"] == 9, "more than the window was sent"
    receiver.send(hfwire.DELIVER_ACK, [("upto", got[1]["seq"])])
    got += [receiver.expect(hfwire.DELIVER) for _ in range(2)]
    receiver.send(hfwire.DELIVER_ACK, [("upto", got[-1]["seq"])])
    got += [receiver.expect(hfwire.DELIVER) for _ in range(4)]
    assert [m["payload"] for m in got] == [b"m%d" % i for i in range(10)], "FIFO order"
    assert [m["seq"] for m in got] == list(range(1, 11))
    # Acknowledging past what was delivered is a protocol error.
    receiver.send(hfwire.DELIVER_ACK, [("upto", 99)])
    assert receiver.expect(hfwire.ERROR)["code"] == hfwire.ERR["bad_ack"]


def test_collapse_key_replaces_undelivered_message():
    relay = Relay().start()
    pc = relay.token("alice", "pc")
    for n in range(3):
        relay.cli(pc, "send", "--to", "phone", "--collapse", "open-tabs", "tabs v%d" % n)
    relay.cli(pc, "send", "--to", "phone", "other")
    code, msgs, _ = listen_json(relay, relay.token("alice", "phone"), "--count", "2", "--timeout", "10")
    assert [m["payload"] for m in msgs] == ["tabs v2", "other"], msgs


def collapse_while_online_with_a_full_window(together):
    """The phone is connected but has not acknowledged its window, so
    what arrives waits (in the store's tail cache); a later message with
    the same collapse key must replace it there too, whether it came
    alone or in the same read (one write to the store) as the one it
    replaces."""
    relay = Relay(**{"delivery.window": 1, "delivery.ack_wait": "0ms"}).start()
    receiver = relay.conn()
    receiver.hello(relay.token("alice", "phone"))
    sender = relay.conn()
    sender.hello(relay.token("alice", "pc"))
    frames = []
    for i, (payload, collapse) in enumerate([(b"first", None), (b"tabs v1", "tabs"), (b"tabs v2", "tabs"),
                                             (b"last", None)]):
        fields = [("to", "phone"), ("id", i + 1), ("payload", payload)]
        if collapse:
            fields.append(("collapse", collapse))
        frames.append(hfwire.frame(hfwire.SEND, fields))
        if not together:
            sender.send_raw(frames.pop())
            assert sender.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    if together:
        sender.send_raw(b"".join(frames))
        assert [sender.expect(hfwire.SEND_ACK)["status"] for _ in frames] == [hfwire.STORED] * 4
    got = []
    for _ in range(3):
        msg = receiver.expect(hfwire.DELIVER)
        got.append(msg["payload"])
        receiver.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    receiver.send(hfwire.PING, [("id", 3)])
    assert receiver.expect(hfwire.PONG)["id"] == 3, "a replaced message came too"
    assert got == [b"first", b"tabs v2", b"last"], got


def test_collapse_while_the_target_is_online_with_a_full_window():
    collapse_while_online_with_a_full_window(together=False)


def test_collapse_within_one_read_while_the_target_is_online():
    collapse_while_online_with_a_full_window(together=True)


def test_large_messages_in_one_read_arrive_whole_and_in_order():
    """Six 200 KB messages sent in one write to one device, stored over
    several passes (and with the Redis store several stream entries): a
    device that connects later gets every one, whole and in order."""
    relay = Relay().start()
    pc = relay.conn()
    pc.hello(relay.quick_token("alice", "pc"))
    payloads = [bytes([65 + i]) * 200000 for i in range(6)]
    pc.send_raw(b"".join(
        hfwire.frame(hfwire.SEND, [("to", "phone"), ("id", i + 1), ("payload", p)]) for i, p in enumerate(payloads)))
    assert [pc.expect(hfwire.SEND_ACK)["status"] for _ in payloads] == [hfwire.STORED] * 6
    phone = relay.conn()
    phone.hello(relay.quick_token("alice", "phone"))
    got = []
    while len(got) < 6:
        got.append(phone.expect(hfwire.DELIVER))
        phone.send(hfwire.DELIVER_ACK, [("upto", got[-1]["seq"])])
    assert [m["seq"] for m in got] == list(range(1, 7)), [m["seq"] for m in got]
    assert [m["payload"] for m in got] == payloads, [(m["payload"][:1], len(m["payload"])) for m in got]


def many_in_one_write(online):
    """600 messages of 10-40 KB sent in one write, stored over many passes
    (with the Redis store, several messages to an entry, and its scripts
    new to Redis, as after a restart: the first passes' enqueues must not
    be overtaken by later ones); the phone, online with a small window or
    connecting afterwards, gets them in order, whole."""
    unlimited = {key: 1000000 for key in ("limits.send_rate", "limits.send_burst", "limits.frame_rate",
                                          "limits.frame_burst")}
    relay = Relay(**{"delivery.window": 8}, **unlimited).start()
    harness.forget_redis_scripts(relay)
    phone = relay.conn()
    if online:
        phone.hello(relay.quick_token("alice", "phone"))
    pc = relay.conn()
    pc.hello(relay.quick_token("alice", "pc"))
    payloads = [(b"%05d" % i) * (2000 + (i * 7919) % 6000) for i in range(600)]
    pc.send_raw(b"".join(hfwire.frame(hfwire.SEND, [("to", "phone"), ("id", i + 1), ("payload", p)])
                         for i, p in enumerate(payloads)))
    if not online:
        assert [pc.expect(hfwire.SEND_ACK, timeout=30)["status"] for _ in payloads] == [hfwire.STORED] * 600
        phone.hello(relay.quick_token("alice", "phone"))
    got = []
    while len(got) < len(payloads):
        got.append(phone.expect(hfwire.DELIVER, timeout=30))
        if len(got) % 3 == 0 or len(got) == len(payloads):
            phone.send(hfwire.DELIVER_ACK, [("upto", got[-1]["seq"])])
    assert [m["seq"] for m in got] == list(range(1, 601))
    wrong = [(i, m["payload"][:5]) for i, m in enumerate(got) if m["payload"] != payloads[i]]
    assert not wrong, "%d out of place, first: %r" % (len(wrong), wrong[:3])


def test_many_messages_in_one_write_to_a_device_online():
    many_in_one_write(online=True)


def test_many_messages_in_one_write_to_a_device_offline():
    many_in_one_write(online=False)


def test_payload_limits_are_announced_and_no_deliver_passes_max_frame():
    """WELCOME says the largest payload; a longer one is rejected with its
    own code and the connection stays; the longest allowed, from the
    longest sender name with the longest collapse key and id, arrives in
    a DELIVER within the receiver's max_frame."""
    relay = Relay(**{"limits.max_frame": "4k"}).start()
    sender_name = "s" * 64
    pc = relay.conn()
    welcome = pc.hello(relay.quick_token("alice", sender_name))
    assert welcome["max_frame"] == 4096 and welcome["max_payload"] == 4096 - 256, welcome
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"x" * (welcome["max_payload"] + 1))])
    ack = pc.expect(hfwire.SEND_ACK)
    assert ack["status"] == hfwire.REJECTED and ack["code"] == hfwire.ERR["payload_too_large"], ack
    assert "max_payload" in ack["text"], ack
    biggest = (1 << 64) - 1
    pc.send(hfwire.SEND, [("to", "phone"), ("id", biggest), ("collapse", "c" * 64),
                          ("payload", b"y" * welcome["max_payload"])])
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    phone = relay.conn()
    phone.hello(relay.quick_token("alice", "phone"))
    msg = phone.expect(hfwire.DELIVER)
    assert msg["payload"] == b"y" * welcome["max_payload"] and msg["id"] == biggest, msg
    # Encoded as the server does (minimal, every field once), its body:
    body_len, _ = hfwire.read_varint(hfwire.frame(hfwire.DELIVER, list(msg.items())), 2)
    assert 4096 - 256 < body_len <= 4096, body_len


def test_a_flaky_link_never_loses_a_stored_message():
    """A phone whose connection ends 20 times before it acknowledges (a
    tunnel, a NAT rebinding, `replaced`): the message is delivered again
    every time, and then taken. On 812d479 the 6th connection got nothing:
    delivery.max_attempts (5) had set it aside. That key now only warns."""
    relay = Relay(**{"delivery.max_attempts": 5}).start()
    assert "delivery.max_attempts is no longer used and is ignored" in relay.log()
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"bookmark")])
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    phone_token = relay.token("alice", "phone")
    phone = relay.conn()
    phone.hello(phone_token)
    for drop in range(20):
        msg = phone.expect(hfwire.DELIVER)
        assert msg["payload"] == b"bookmark", (drop, msg)
        if drop % 2:
            phone.close()  # the link goes
            assert relay.metric_becomes("handoff_online_devices", 1), "the phone's close was not seen"
            phone = relay.conn()
            phone.hello(phone_token)
        else:
            newer = relay.conn()  # the same phone again, from a new address
            newer.hello(phone_token)
            assert phone.expect(hfwire.ERROR)["code"] == hfwire.ERR["replaced"]
            phone.close()
            phone = newer
    msg = phone.expect(hfwire.DELIVER)
    assert msg["payload"] == b"bookmark", msg
    phone.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    phone.send(hfwire.PING, [("id", 9)])
    assert phone.expect(hfwire.PONG)["id"] == 9, "it came again after its acknowledgement"
    assert relay.metric("handoff_messages_dead_lettered_total") == 0
    assert "dead letters" not in relay.log() and "set aside" not in relay.log()


def test_a_message_the_device_refuses_goes_to_its_dead_letters():
    """DELIVER_ACK upto=N code=C: every seq before N is acknowledged, N
    moves to the device's dead-letter list (never deleted), and the rest
    of its queue flows, also after a restart of the connection."""
    relay = Relay().start()
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))
    for i, payload in enumerate((b"m1", b"poison", b"m3"), start=1):
        pc.send(hfwire.SEND, [("to", "phone"), ("id", i), ("payload", payload)])
        assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    phone_token = relay.token("alice", "phone")
    phone = relay.conn()
    phone.hello(phone_token)
    got = [phone.expect(hfwire.DELIVER) for _ in range(3)]
    assert [m["payload"] for m in got] == [b"m1", b"poison", b"m3"]
    # Refusing what was never sent, or with code 0, is the device's error.
    bad = relay.conn()
    bad.hello(relay.token("alice", "tablet"))
    bad.send(hfwire.DELIVER_ACK, [("upto", 1), ("code", hfwire.ERR["bad_field"])])
    assert bad.expect(hfwire.ERROR)["code"] == hfwire.ERR["bad_ack"]
    phone.send(hfwire.DELIVER_ACK, [("upto", got[1]["seq"]), ("code", hfwire.ERR["bad_field"]),
                                    ("text", "not a URL")])
    phone.send(hfwire.DELIVER_ACK, [("upto", got[2]["seq"])])
    phone.send(hfwire.PING, [("id", 1)])
    assert phone.expect(hfwire.PONG)["id"] == 1
    assert relay.metric_becomes("handoff_messages_dead_lettered_total", 1)
    assert relay.metric("handoff_messages_delivered_total") == 2
    phone.close()
    assert relay.metric_becomes("handoff_online_devices", 1)
    phone = relay.conn()
    phone.hello(phone_token)
    phone.send(hfwire.PING, [("id", 2)])
    assert phone.expect(hfwire.PONG)["id"] == 2, "a refused or acknowledged message came again"
    log = relay.log()
    assert "moved to the device's dead letters: refused by the device: bad_field (3): not a URL" in log, log[-2000:]
    zero = relay.conn()
    zero.hello(relay.token("alice", "laptop"))
    pc.send(hfwire.SEND, [("to", "laptop"), ("id", 4), ("payload", b"x")])
    deliver = zero.expect(hfwire.DELIVER)
    zero.send(hfwire.DELIVER_ACK, [("upto", deliver["seq"]), ("code", 0)])
    assert zero.expect(hfwire.ERROR)["code"] == hfwire.ERR["bad_field"]


def test_bad_sends_are_rejected_with_reasons():
    relay = Relay(**{"limits.max_ttl": "1h", "delivery.default_ttl": "1h"}).start()
    pc = relay.token("alice", "pc")
    code, _, err = relay.cli(pc, "send", "--to", "not a name", "x")
    assert code == 1 and "bad_target" in err, err
    code, _, err = relay.cli(pc, "send", "--to", "phone", "--ttl", "7200", "x")
    assert code == 1 and "ttl_too_long" in err, err


def test_queue_quota_rejects_with_queue_full():
    relay = Relay(**{"limits.queue_max_messages": 2}).start()
    pc = relay.token("alice", "pc")
    for _ in range(2):
        assert relay.cli(pc, "send", "--to", "phone", "x")[0] == 0
    code, _, err = relay.cli(pc, "send", "--to", "phone", "x")
    assert code == 1 and "queue_full" in err, err



def test_the_account_quota_holds_across_made_up_devices_and_the_api_purges_them():
    """One device token cannot fill the store with queues for device
    names that never connected: every queue of the account counts against
    limits.account_max_messages and _bytes (account_full past them, with
    the device's own quota far off). The API lists the account's queues,
    marks those of devices that never connected, and purges those alone;
    then sends are taken again and a real device's queue is untouched."""
    relay = Relay(api_keys=True, **{"limits.account_max_messages": 20, "limits.account_max_bytes": "4k"}).start()
    pc = relay.conn()
    pc.hello(relay.quick_token("alice", "pc"))
    relay.cli(relay.token("alice", "phone"), "listen", "--timeout", "0.5")  # phone is a real device
    assert send_ack(pc, "phone", 1, b"for the phone")["status"] == hfwire.STORED
    statuses = [send_ack(pc, "ghost%d" % i, 100 + i, b"x" * 10) for i in range(25)]
    stored = [a for a in statuses if a["status"] == hfwire.STORED]
    refused = [a for a in statuses if a["status"] == hfwire.REJECTED]
    assert len(stored) == 19 and len(refused) == 6, statuses  # 20 with the phone's
    assert {a["code"] for a in refused} == {hfwire.ERR["account_full"]}, refused
    # Bytes count as well: bob's first 4k message fills his account.
    bob = relay.conn()
    bob.hello(relay.quick_token("bob", "pc"))
    assert send_ack(bob, "tablet", 1, b"y" * 4000)["status"] == hfwire.STORED
    assert send_ack(bob, "tablet", 2, b"y" * 100)["code"] == hfwire.ERR["account_full"]
    assert relay.metric('handoff_messages_rejected_total{reason="account_full"}') == 7

    status, listed = relay.api("GET", "/v1/accounts/alice/queues")
    assert status == 200, listed
    assert (listed["messages"], listed["max_messages"], listed["max_bytes"]) == (20, 20, 4096), listed
    queues = {q["device"]: q for q in listed["queues"]}
    assert len(queues) == 20 and queues["phone"]["never_connected"] is False, listed
    assert queues["ghost0"] == {"device": "ghost0", "dead_letters": False, "never_connected": True,
                                "messages": 1, "bytes": 10}, queues["ghost0"]
    status, purged = relay.api("POST", "/v1/accounts/alice/queues/purge", {})
    assert status == 400 and purged["error"] == "bad_field", purged  # it must say which
    status, purged = relay.api("POST", "/v1/accounts/alice/queues/purge", {"never_connected": True})
    assert status == 200 and purged["messages"] == 19, purged
    assert sorted(p["device"] for p in purged["purged"]) == sorted("ghost%d" % i for i in range(19)), purged
    status, listed = relay.api("GET", "/v1/accounts/alice/queues")
    assert [q["device"] for q in listed["queues"]] == ["phone"] and listed["messages"] == 1, listed
    assert send_ack(pc, "ghost24", 200, b"room again")["status"] == hfwire.STORED
    _, msgs, _ = listen_json(relay, relay.token("alice", "phone"), "--count", "1", "--timeout", "10")
    assert [m["payload"] for m in msgs] == ["for the phone"], msgs
    code, out, err = relay.ctl("queues", "alice")
    assert code == 0 and "ghost24" in out and "never connected" in out, (code, out, err)
    code, out, err = relay.ctl("queues", "alice", "--purge-never-connected")
    assert code == 0 and "purged 1 messages" in out, (code, out, err)


def test_a_refused_send_in_a_batch_leaves_the_others_whole():
    """SENDs that arrive in one read are stored together (one LMDB write
    transaction); one refused among them, after a collapse it would have
    made, must neither undo the others nor leave a trace."""
    relay = Relay(**{"limits.queue_max_messages": 3}).start()
    pc = relay.conn()
    pc.hello(relay.quick_token("alice", "pc"))

    def send(msg_id, to, payload, collapse=None):
        fields = [("to", to), ("id", msg_id), ("payload", payload)]
        if collapse:
            fields.append(("collapse", collapse))
        return hfwire.frame(hfwire.SEND, fields)

    pc.send_raw(send(1, "tablet", b"m1") + send(2, "tablet", b"m2", "tabs"))
    assert [pc.expect(hfwire.SEND_ACK)["status"] for _ in range(2)] == [hfwire.STORED] * 2
    # The queue holds 2 of 3: m3 fills it, m4 is refused, m5 replaces m2.
    pc.send_raw(send(3, "tablet", b"m3") + send(4, "tablet", b"m4") + send(5, "tablet", b"m5", "tabs") +
                send(6, "phone", b"m6"))
    acks = {}
    for _ in range(4):
        ack = pc.expect(hfwire.SEND_ACK)
        acks[ack["id"]] = ack
    assert [acks[i]["status"] for i in (3, 4, 5, 6)] == [hfwire.STORED, hfwire.REJECTED, hfwire.STORED,
                                                          hfwire.STORED], acks
    assert acks[4]["code"] == hfwire.ERR["queue_full"], acks
    _, msgs, _ = listen_json(relay, relay.token("alice", "tablet"), "--count", "3", "--timeout", "10")
    assert [m["payload"] for m in msgs] == ["m1", "m3", "m5"], msgs
    _, msgs, _ = listen_json(relay, relay.token("alice", "phone"), "--count", "1", "--timeout", "10")
    assert [m["payload"] for m in msgs] == ["m6"], msgs
    # Nor did the refused m4 leave a trace in de-duplication: sent again
    # once there is room, it is a new message, stored and delivered.
    pc.send_raw(send(4, "tablet", b"m4"))
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    _, msgs, _ = listen_json(relay, relay.token("alice", "tablet"), "--count", "1", "--timeout", "10")
    assert [m["payload"] for m in msgs] == ["m4"], msgs


def send_ack(conn, to, msg_id, payload=b"x", extra=()):
    conn.send(hfwire.SEND, [("to", to), ("id", msg_id), ("payload", payload)] + list(extra))
    return conn.expect(hfwire.SEND_ACK)


def test_the_to_grammar_and_other_decided_cases():
    """docs/protocol.md, "SEND: what is rejected and what is fatal"."""
    relay = Relay().start()
    pc = relay.conn()
    pc.hello(relay.quick_token("alice", "pc"), heartbeat_ms=0)  # 0: the default interval
    code = lambda ack: (ack["status"], ack.get("code", 0))
    rejected = lambda name: (hfwire.REJECTED, hfwire.ERR[name])
    assert code(send_ack(pc, "a/b/c", 1)) == rejected("bad_target")
    assert code(send_ack(pc, "bob/*", 2)) == rejected("forbidden")
    assert code(send_ack(pc, "", 3)) == rejected("bad_target")
    assert code(send_ack(pc, "phone", 4, extra=[("collapse", "k" * 65)])) == rejected("bad_field")
    assert code(send_ack(pc, "phone", 5, extra=[("ttl", 0)])) == rejected("bad_field")
    assert send_ack(pc, "alice/phone", 6, b"")["status"] == hfwire.STORED  # an empty payload is a message
    # The same id again with another payload is a resend: the first stays.
    assert send_ack(pc, "phone", 6, b"other")["status"] == hfwire.STORED
    assert code(send_ack(pc, "alice/*", 7)) == rejected("no_target")  # the phone never connected yet
    # A device may send to itself.
    pc.send(hfwire.SEND, [("to", "pc"), ("id", 8), ("payload", b"note to self")])
    note = pc.expect(hfwire.DELIVER)
    assert note["payload"] == b"note to self" and note["from"] == "pc"
    pc.send(hfwire.DELIVER_ACK, [("upto", note["seq"])])
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.DELIVERED
    pc.send(hfwire.DELIVER_ACK, [("upto", note["seq"])])  # twice: ignored
    pc.send(hfwire.PING, [("id", 9)])
    assert pc.expect(hfwire.PONG)["id"] == 9
    phone = relay.conn()
    phone.hello(relay.quick_token("alice", "phone"))
    assert phone.expect(hfwire.DELIVER)["payload"] == b""
    assert send_ack(pc, "alice/*", 11, b"to all")["status"] in (hfwire.STORED, hfwire.DELIVERED)
    assert phone.expect(hfwire.DELIVER)["payload"] == b"to all"
    # A NUL in `to` is a malformed string: a fatal ERROR, not a rejection.
    pc.send(hfwire.SEND, [("to", "ph\0one"), ("id", 10), ("payload", b"x")])
    assert pc.expect(hfwire.ERROR)["code"] == hfwire.ERR["bad_field"]


def test_unknown_devices_are_rejected_when_configured():
    relay = Relay(**{"delivery.unknown_devices": "reject"}).start()
    pc = relay.conn()
    pc.hello(relay.quick_token("alice", "pc"))
    ack = send_ack(pc, "phnoe", 1)
    assert ack["status"] == hfwire.REJECTED and ack["code"] == hfwire.ERR["unknown_device"], ack
    phone = relay.conn()
    phone.hello(relay.quick_token("alice", "phone"))
    phone.close()
    harness.wait_until(lambda: "alice/phone offline" in relay.log(), 5, "phone offline")
    assert send_ack(pc, "phone", 2)["status"] == hfwire.STORED  # it connected once: known
    assert relay.metric('handoff_messages_rejected_total{reason="unknown_device"}') == 1
    # The default keeps the message for a device yet to connect.
    other = Relay().start()
    tablet = other.conn()
    tablet.hello(other.quick_token("alice", "tablet"))
    assert send_ack(tablet, "phone", 1)["status"] == hfwire.STORED


if __name__ == "__main__":
    harness.run(dict(globals()))
