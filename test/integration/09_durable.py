"""09: the LMDB store: acknowledged means durable, across kill -9."""

import os
import signal
import subprocess
import time

import harness
import hfwire
from harness import Relay


def send_many(relay, count, to="phone", payload_of=lambda i: b"msg %06d" % i, window=500):
    """Sends count messages on one raw connection, `window` unanswered at
    most; returns {id: (status, code)}."""
    conn = relay.conn()
    conn.hello(relay.token("alice", "pc"))
    answers = {}
    sent = 0
    while len(answers) < count:
        while sent < count and sent - len(answers) < window:
            conn.send(hfwire.SEND, [("to", to), ("id", sent + 1), ("payload", payload_of(sent))])
            sent += 1
        t, f = conn.recv(timeout=30)
        if t == hfwire.SEND_ACK:
            answers[f["id"]] = (f["status"], f.get("code"))
    conn.close()
    return answers


def receive_all(relay, count, ack_every=100):
    """Connects as the phone and takes count messages, acknowledging as it
    goes; returns the payloads in order and checks seqs never repeat."""
    conn = relay.conn()
    welcome = conn.hello(relay.token("alice", "phone"))
    got, seqs = [], []
    while len(got) < count:
        t, f = conn.recv(timeout=30)
        assert t == hfwire.DELIVER, (t, f)
        got.append(f["payload"])
        seqs.append(f["seq"])
        if len(got) % min(ack_every, welcome["window"]) == 0 or len(got) == count:
            conn.send(hfwire.DELIVER_ACK, [("upto", f["seq"])])
    conn.send(hfwire.PING, [("id", 1)])
    t, f = conn.recv(timeout=10)
    assert t == hfwire.PONG, "more than %d messages came: %r" % (count, (t, f))
    assert seqs == sorted(set(seqs)), "a seq came twice or out of order"
    return got


def kill_9_keeps_everything(sync):
    relay = Relay(**{"store.module": "lmdb", "store.sync": sync, "store.map_size": "256m",
                     "limits.send_rate": 1000000, "limits.send_burst": 1000000,
                     "limits.frame_rate": 1000000, "limits.frame_burst": 1000000}).start()
    total = 10000
    answers = send_many(relay, total)
    assert all(a == (hfwire.STORED, None) for a in answers.values()), "not all stored"
    relay.stop(signal.SIGKILL)
    relay.start()
    got = receive_all(relay, total)
    assert got == [b"msg %06d" % i for i in range(total)], "lost, reordered or repeated"
    # Acknowledged means gone, also across a restart.
    relay.stop(signal.SIGKILL)
    relay.start()
    conn = relay.conn()
    conn.hello(relay.token("alice", "phone"))
    conn.send(hfwire.PING, [("id", 2)])
    assert conn.expect(hfwire.PONG)["id"] == 2


def test_kill_9_after_10000_acknowledged_sync_batch():
    kill_9_keeps_everything("batch")


def test_kill_9_after_10000_acknowledged_sync_always():
    kill_9_keeps_everything("always")


def test_a_config_that_names_no_store_is_durable():
    """No store.module: the default keeps a stored message across kill -9
    (it was the memory store, which lost it)."""
    relay = Relay(**{"store.module": None})
    relay.settings["store.path"] = os.path.join(relay.dir, "default-store")
    relay.write_config()
    relay.start()
    assert send_many(relay, 1) == {1: (hfwire.STORED, None)}
    relay.stop(signal.SIGKILL)
    relay.start()
    assert receive_all(relay, 1) == [b"msg 000000"]
    assert os.path.exists(os.path.join(relay.dir, "default-store", "data.mdb"))
    assert "every stored message is lost" not in relay.log()
    # An allocator keeps no store: a store.path it could not create is no
    # reason not to start.
    Relay("allocator", **{"store.module": None, "store.path": "/proc/handoff-no-such-folder"}).start()


def test_the_memory_store_warns_at_every_start():
    relay = Relay(**{"store.module": "memory"}).start()
    relay.stop()
    relay.start()
    warnings = [line for line in relay.log().splitlines() if "every stored message is lost when it stops" in line]
    assert len(warnings) == 2 and all("warning" in line for line in warnings), warnings


def test_a_second_daemon_on_the_same_store_is_refused():
    """Another handoffd (other ports, the same store.path), with one
    process or a box of workers, exits naming the first one's pid before
    it touches the store; the first goes on serving. On 812d479 the
    second one started and ran beside it."""
    first = Relay(**{"store.module": "lmdb"}).start()
    assert send_many(first, 1) == {1: (hfwire.STORED, None)}
    for workers in (1, 2):
        second = Relay(**{"store.module": "lmdb", "store.path": first.settings["store.path"], "workers": workers})
        try:
            second.start()
        except AssertionError as e:
            assert "exited with 1" in str(e), e
        else:
            raise AssertionError("a second daemon started on the same store")
        said = "store.path %s is in use by pid %d" % (first.settings["store.path"], first.proc.pid)
        assert said in second.log(), second.log()[-1500:]
    assert receive_all(first, 1) == [b"msg 000000"]
    # The lock goes with the process: a restart takes it again.
    first.stop(signal.SIGKILL)
    first.start()
    assert send_many(first, 1, to="tablet") == {1: (hfwire.STORED, None)}


def test_a_newer_store_format_is_refused_and_an_older_one_taken_up():
    """store.path/format says which format the store is in: a newer one is
    refused by -t and by a start (exit 78), before anything reads it; one
    from before format versions (no file) is taken up to 1, logged, with
    its messages. On 812d479 there was no format at all."""
    relay = Relay(**{"store.module": "lmdb"}).start()
    assert send_many(relay, 2) == {1: (hfwire.STORED, None), 2: (hfwire.STORED, None)}
    relay.stop()
    folder = relay.settings["store.path"]
    with open(os.path.join(folder, "format")) as f:
        assert f.read() == "handoff-lmdb 1\n"
    with open(os.path.join(folder, "format"), "w") as f:
        f.write("handoff-lmdb 2\n")
    said = "holds store format 2, and this handoffd (%s) reads formats up to 1" % harness.handoffd_version()
    out = subprocess.run([harness.HANDOFFD, "-t", "-c", relay.config], capture_output=True, text=True, timeout=10)
    assert out.returncode == 78 and said in out.stderr, out
    out = subprocess.run([harness.HANDOFFD, "-f", "-c", relay.config], capture_output=True, text=True, timeout=10)
    assert out.returncode == 78 and said in out.stderr, out
    os.unlink(os.path.join(folder, "format"))  # as a store from before versions
    relay.start()
    assert "store format 0 (before format versions) -> 1: nothing to convert" in relay.log()
    with open(os.path.join(folder, "format")) as f:
        assert f.read() == "handoff-lmdb 1\n"
    assert receive_all(relay, 2) == [b"msg 000000", b"msg 000001"]


def test_dedup_survives_restart():
    relay = Relay(**{"store.module": "lmdb"}).start()
    send_many(relay, 3)
    relay.stop(signal.SIGKILL)
    relay.start()
    again = send_many(relay, 3)  # same ids, resent after the crash
    assert all(a == (hfwire.STORED, None) for a in again.values())
    assert receive_all(relay, 3) == [b"msg %06d" % i for i in range(3)]


def test_full_store_rejects_with_store_full_and_keeps_serving():
    relay = Relay(**{"store.module": "lmdb", "store.map_size": "1m", "limits.queue_max_bytes": "64m",
                     "limits.queue_max_messages": 1000000}).start()
    answers = send_many(relay, 400, payload_of=lambda i: bytes([i % 256]) * 8000, window=50)
    codes = [a for a in answers.values() if a[0] == hfwire.REJECTED]
    assert codes and all(c == (hfwire.REJECTED, hfwire.ERR["store_full"]) for c in codes), set(codes)
    stored = sum(1 for a in answers.values() if a[0] == hfwire.STORED)
    assert stored > 10, stored
    assert "store_full" in relay.log() or "full" in relay.log()
    # Draining the queue frees space: the deletions commit (the map's
    # reserve is for them), and the next message is stored.
    receive_all(relay, stored)
    relay_ok = send_many(relay, 1, to="tablet", payload_of=lambda i: b"small")
    assert list(relay_ok.values()) == [(hfwire.STORED, None)], relay_ok


def test_delivered_comes_before_the_sync_and_stored_syncs_at_once():
    # A sync every 4 s at most, unless a sender waits for one.
    relay = Relay(**{"store.module": "lmdb", "store.sync_interval": "4s", "delivery.ack_batch": "0ms"}).start()
    phone = relay.conn()
    phone.hello(relay.token("alice", "phone"))
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))

    def send_and_ack(msg_id, timeout):
        pc.send(hfwire.SEND, [("to", "phone"), ("id", msg_id), ("payload", b"tab %d" % msg_id)])
        deliver = phone.expect(hfwire.DELIVER)
        phone.send(hfwire.DELIVER_ACK, [("upto", deliver["seq"])])
        return pc.expect(hfwire.SEND_ACK, timeout=timeout)

    first = send_and_ack(1, timeout=10)  # its sync began at once
    assert (first["id"], first["status"]) == (1, hfwire.DELIVERED), first
    # The next sync is 4 s off; the phone's acknowledgement answers at once.
    second = send_and_ack(2, timeout=2.5)
    assert (second["id"], second["status"]) == (2, hfwire.DELIVERED), second
    # A sender waiting to hear "stored" does not wait out the interval...
    pc.send(hfwire.SEND, [("to", "tablet"), ("id", 3), ("payload", b"for later")])
    third = pc.expect(hfwire.SEND_ACK, timeout=2.5)
    assert (third["id"], third["status"]) == (3, hfwire.STORED), third
    # ...and "stored" means on disk: it survives kill -9 at once.
    relay.stop(signal.SIGKILL)
    relay.start()
    tablet = relay.conn()
    tablet.hello(relay.token("alice", "tablet"))
    assert tablet.expect(hfwire.DELIVER)["payload"] == b"for later"


def test_expired_messages_are_swept_from_disk():
    relay = Relay(**{"store.module": "lmdb", "delivery.expire_interval": "1s"}).start()
    conn = relay.conn()
    conn.hello(relay.token("alice", "pc"))
    conn.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("ttl", 1), ("payload", b"gone")])
    conn.send(hfwire.SEND, [("to", "phone"), ("id", 2), ("ttl", 600), ("payload", b"kept")])
    assert conn.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    assert conn.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    time.sleep(2.5)
    relay.stop(signal.SIGKILL)
    relay.start()
    assert receive_all(relay, 1) == [b"kept"]


def test_a_message_stored_under_a_larger_max_frame_goes_to_its_dead_letters():
    """limits.max_frame lowered across a restart: a message stored before,
    whose DELIVER would pass the new limit, is never sent (no frame
    passes the max_frame announced); it moves to the device's dead-letter
    list, and the rest of the queue flows. Durable: kill -9 right after
    keeps the list, and nothing comes twice."""
    relay = Relay(**{"store.module": "lmdb"}).start()
    # The first one is the oldest in the window at once; the second is
    # passed by the phone's acknowledgement of the messages after it.
    send_many(relay, 4, payload_of=lambda i: b"x" * 3000 if i in (0, 2) else b"small %d" % i)
    relay.stop()
    relay.settings["limits.max_frame"] = "1k"
    relay.write_config()
    relay.start()
    assert receive_all(relay, 2) == [b"small 1", b"small 3"]
    assert relay.metric("handoff_messages_dead_lettered_total") == 2
    assert relay.metric("handoff_messages_delivered_total") == 2
    assert "DELIVER larger than limits.max_frame" in relay.log()
    relay.stop(signal.SIGKILL)
    relay.start()
    assert receive_all(relay, 0) == []


if __name__ == "__main__":
    harness.run(dict(globals()))
