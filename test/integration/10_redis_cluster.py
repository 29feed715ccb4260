"""10: several servers sharing Redis: immediate delivery across servers, re-homing, a Redis restart."""

import subprocess
import time

import harness
import hfwire
from harness import Relay, RedisServer


def cluster_on_redis():
    redis = RedisServer().start()
    alloc, nodes = harness.servers_sharing({"store.module": "redis", "store.address": redis.address(),
                                            "store.prefix": "shared:"})
    return redis, alloc, nodes


def two_servers_one_device_each():
    """A shared Redis, an allocator and two servers; alice/a on the first,
    alice/b on the second."""
    redis, alloc, (s1, s2) = cluster_on_redis()
    a = s1.conn()
    a.hello(alloc.token("alice", "a"))
    b = s2.conn()
    b.hello(alloc.token("alice", "b"))
    return redis, alloc, (s1, s2), a, b


def test_devices_on_two_servers_exchange_at_once():
    redis, alloc, (s1, s2), a, b = two_servers_one_device_each()
    time.sleep(0.2)  # presence written
    for sender, receiver, name, text in ((a, b, "b", b"a to b"), (b, a, "a", b"b to a")):
        sender.send(hfwire.SEND, [("to", name), ("id", 1), ("payload", text)])
        msg = receiver.expect(hfwire.DELIVER, timeout=5)
        assert msg["payload"] == text, msg
        receiver.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
        assert sender.expect(hfwire.SEND_ACK)["status"] in (hfwire.STORED, hfwire.DELIVERED)


def test_killed_servers_device_rehomes_and_gets_what_was_stored():
    redis, alloc, (s1, s2), a, b = two_servers_one_device_each()
    harness.kill_and_rehome(alloc, s1, s2, b)


def test_redis_restart_answers_unavailable_then_delivers_everything():
    redis, alloc, (s1, s2) = cluster_on_redis()
    b = s2.conn()
    b.hello(alloc.token("alice", "b"))
    b.send(hfwire.SEND, [("to", "a"), ("id", 1), ("payload", b"before")])
    assert b.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    redis.stop()
    b.send(hfwire.SEND, [("to", "a"), ("id", 2), ("payload", b"during")])
    ack = b.expect(hfwire.SEND_ACK)
    assert (ack["status"], ack["code"]) == (hfwire.REJECTED, hfwire.ERR["store_unavailable"]), ack
    b.send(hfwire.PING, [("id", 7)])
    assert b.expect(hfwire.PONG)["id"] == 7, "the connection did not stay up"
    redis.start()
    # The sender resends with the same id until the store is back.
    deadline = time.monotonic() + 15
    while True:
        b.send(hfwire.SEND, [("to", "a"), ("id", 2), ("payload", b"during")])
        ack = b.expect(hfwire.SEND_ACK)
        if ack["status"] == hfwire.STORED or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ack["status"] == hfwire.STORED, ack
    b.send(hfwire.SEND, [("to", "a"), ("id", 3), ("payload", b"after")])
    assert b.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    a = s1.conn()
    a.hello(alloc.token("alice", "a"))
    got = []
    for _ in range(3):
        msg = a.expect(hfwire.DELIVER)
        got.append(msg["payload"])
        a.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    assert got == [b"before", b"during", b"after"], got
    assert "store_unavailable" in s2.log() or "Redis" in s2.log()


def test_an_acknowledgement_drops_only_what_the_device_was_sent():
    """A Redis split brain can leave the store holding another message as
    a seq the device was sent (docs/faults.md, N6). Here the queue's entry
    is rewritten under the connection, as the promoted side would hold it,
    and the daemon's Redis connection cut, as a failover does: the
    device's acknowledgement keeps the message, the device is cut with
    store_unavailable, and connecting again it is sent. Before, the
    acknowledgement dropped it by its seq, unseen."""
    redis = RedisServer().start()
    relay = Relay(**{"store.module": "redis", "store.address": redis.address(), "store.prefix": "fk:"}).start()
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"a")])
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    phone = relay.conn()
    phone.hello(relay.token("alice", "phone"))
    msg = phone.expect(hfwire.DELIVER)
    assert (msg["seq"], msg["id"], msg["payload"]) == (1, 1, b"a"), msg
    r = harness.Resp(redis.port)
    queue = "fk:{alice}q:phone"
    (entry_id, fields), = r.call("XRANGE", queue, "-", "+")
    blob = fields[1]
    other = blob[:4] + (77).to_bytes(8, "big") + blob[12:-1] + b"b"  # id 77, payload "b": as long as "a"
    r.call("DEL", queue)
    r.call("XADD", queue, entry_id, "r", other, "b", 1)
    # As after a failover, the daemon's connection to Redis is new when
    # the acknowledgement goes (a check is made only then: hf_redis_topology).
    r.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    harness.wait_until(lambda: "Server closed the connection" in relay.log(), 5, "the connection cut")
    time.sleep(1)  # connected again
    phone.send(hfwire.DELIVER_ACK, [("upto", 1)])
    error = phone.expect(hfwire.ERROR)
    assert error["code"] == hfwire.ERR["store_unavailable"], error
    phone.expect_closed()
    phone = relay.conn()
    phone.hello(relay.token("alice", "phone"))
    msg = phone.expect(hfwire.DELIVER)
    assert (msg["seq"], msg["id"], msg["payload"]) == (1, 77, b"b"), msg
    phone.send(hfwire.DELIVER_ACK, [("upto", 1)])
    harness.wait_until(lambda: r.call("XLEN", queue) == 0, 5, "the kept message to be acknowledged")
    phone.send(hfwire.PING, [("id", 5)])
    assert phone.expect(hfwire.PONG)["id"] == 5  # its own acknowledgement cut nothing
    assert relay.metric("handoff_seq_mismatches_total") == 1


def test_a_message_announced_while_a_server_was_not_subscribed_is_delivered():
    """Servers tell each other of new messages on a Redis channel, which
    keeps nothing for a subscriber that is away. While s2's subscription
    is down (a new one refused by requirepass), a message for its device
    is announced in vain; once s2 subscribes again, it reads every device
    it holds, and the message arrives. Before, it waited for the device's
    next message or connection (a nemesis run's API message, never shown)."""
    redis, alloc, (s1, s2), a, b = two_servers_one_device_each()
    time.sleep(0.2)  # presence written
    r = harness.Resp(redis.port)
    r.call("CONFIG", "SET", "requirepass", "now-nobody-new-gets-in")
    r.call("CLIENT", "KILL", "TYPE", "pubsub")
    harness.wait_until(lambda: "(notifications)" in s2.log(), 5, "s2's subscription gone")
    a.send(hfwire.SEND, [("to", "b"), ("id", 1), ("payload", b"while away")])
    assert a.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    try:
        early = b.recv(timeout=0.8)
    except TimeoutError:
        early = None
    assert early is None, "delivered while s2 was not subscribed (the test did not cut it off): %r" % (early,)
    r.call("CONFIG", "SET", "requirepass", "")
    msg = b.expect(hfwire.DELIVER, timeout=10)
    assert msg["payload"] == b"while away", msg


def test_a_device_that_moved_is_announced_where_it_is_now():
    """N10. A device left s1 without s1 noticing (s1 stopped or cut off:
    here a connection left open and a heartbeat too long to notice) and
    connected to s2, whose arrival took its presence. s1's next presence
    refresh finds it s2's: s1 cuts the connection it was left (replaced)
    and leaves the presence alone, so a message for the device is
    announced to s2 and delivered there. Before, the refresh took the
    presence back for s1, and announcements went to the connection the
    device had left (a nemesis run's API message, never shown)."""
    redis = RedisServer().start()
    alloc, (s1, s2) = harness.servers_sharing({"store.module": "redis", "store.address": redis.address(),
                                               "store.prefix": "moved:", "cluster.presence_ttl": "1500ms",
                                               "heartbeat.interval": "60s"})
    left = s1.conn()
    left.hello(alloc.token("alice", "phone"))
    time.sleep(0.2)  # s1's presence written
    here = s2.conn()
    here.hello(alloc.token("alice", "phone"))
    error = left.expect(hfwire.ERROR, timeout=5)  # s1 refreshes every 0.5 s
    assert error["code"] == hfwire.ERR["replaced"] and "another server" in error["text"], error
    assert "alice/phone connected to another server since" in s1.log()
    pc = s1.conn()
    pc.hello(alloc.token("alice", "pc"))
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"where you are")])
    msg = here.expect(hfwire.DELIVER, timeout=5)
    assert msg["payload"] == b"where you are", msg
    here.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    assert pc.expect(hfwire.SEND_ACK)["status"] in (hfwire.STORED, hfwire.DELIVERED)


def test_password_and_database():
    redis = RedisServer(password="s3cret-for-tests").start()
    relay = Relay(**{"store.module": "redis", "store.address": redis.address(), "store.password": "s3cret-for-tests",
                     "store.database": 3}).start()
    code, out, err = relay.cli(relay.token("alice", "pc"), "send", "--to", "phone", "behind a password")
    assert (code, out) == (0, "stored\n"), (code, out, err)
    code, out, _ = relay.cli(relay.token("alice", "phone"), "listen", "--count", "1", "--timeout", "10")
    assert out == "behind a password\n", out
    # The keys are in database 3, not 0.
    import socket as sk
    with sk.create_connection(("127.0.0.1", redis.port), timeout=5) as c:
        c.sendall(b"AUTH s3cret-for-tests\r\nSELECT 3\r\nDBSIZE\r\nSELECT 0\r\nDBSIZE\r\n")
        time.sleep(0.3)
        answer = c.recv(256).decode()
    sizes = [line for line in answer.split("\r\n") if line.startswith(":")]
    assert len(sizes) == 2 and sizes[0] != ":0" and sizes[1] == ":0", answer
    # A wrong password: senders are told the store is unavailable.
    wrong = Relay(**{"store.module": "redis", "store.address": redis.address(), "store.password": "wrong"}).start()
    code, _, err = wrong.cli(wrong.token("alice", "pc"), "send", "--to", "phone", "x")
    assert code == 1 and "store_unavailable" in err, (code, err)
    assert "refused AUTH" in wrong.log() and "check store.password" in wrong.log()



def start_fails(relay, flag):
    """handoffd -t or -f on the relay's config: (status, stderr)."""
    out = subprocess.run([harness.HANDOFFD, flag, "-c", relay.config], capture_output=True, text=True, timeout=30)
    return out.returncode, out.stderr


def test_the_key_schema_carries_its_format_and_a_newer_one_is_refused():
    """The first server records "handoff-redis 1" under P"format" (SET NX);
    a newer format is refused by -t and by a start (exit 78), before
    anything reads a key; a server that started while Redis was away and
    finds a newer format when it comes stops (exit 74); a value that is no
    handoff format is refused too. On 0b7a94f the keys carried no format."""
    redis = RedisServer().start()
    relay = Relay(**{"store.module": "redis", "store.address": redis.address(), "store.prefix": "fmt:"}).start()
    harness.wait_until(lambda: redis.cli("GET", "fmt:format").strip() == "handoff-redis 1", 10, "the format key")
    assert "store format 1 recorded under \"fmt:\"" in relay.log(), relay.log()
    relay.stop()
    redis.cli("SET", "fmt:format", "handoff-redis 2")
    said = 'the keys under store.prefix "fmt:" are in store format 2, and this handoffd (%s) reads formats up to 1' \
        % harness.handoffd_version()
    for flag in ("-t", "-f"):
        code, err = start_fails(relay, flag)
        assert code == 78 and said in err, (flag, code, err)
    # Started while Redis is away (nothing to check), stopped when it comes.
    redis.stop()
    relay.launch()
    redis.start()
    relay.proc.wait(20)
    assert relay.proc.returncode == 74 and said in relay.log(), (relay.proc.returncode, relay.log()[-600:])
    redis.cli("SET", "fmt:format", "a note of another program")
    code, err = start_fails(relay, "-t")
    assert code == 78 and "not a handoff store format; is store.prefix another program's?" in err, err


def test_the_format_is_found_on_the_cluster_node_that_holds_it():
    """On a Redis Cluster the check follows MOVED to the node of the
    format key's slot, with the password."""
    cluster = harness.RedisCluster(replicas=0).start()
    relay = Relay(**{"store.module": "redis", "store.cluster": cluster.seeds(), "store.replicas": 0,
                     "store.prefix": "fmtc:"}).start()
    holder = cluster.node_of_slot(harness.key_slot("fmtc:format"))
    harness.wait_until(lambda: holder.cli("GET", "fmtc:format").strip() == "handoff-redis 1", 10, "the format key")
    relay.stop()
    holder.cli("SET", "fmtc:format", "handoff-redis 3")
    code, err = start_fails(relay, "-t")
    assert code == 78 and "are in store format 3" in err, err
    cluster.stop()


if __name__ == "__main__":
    harness.run(dict(globals()))
