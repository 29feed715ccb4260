"""17: the Redis store on a real Redis Cluster (three primaries, three
replicas) under faults: an acknowledged message survives its primary's
kill -9, senders are told store_unavailable (never a false stored) until
the failover and then go on by themselves, slots move under traffic with
nothing lost, repeated or reordered, a cluster unreachable at start is
one log line and then served, and a killed handoffd's devices find their
queues on another server."""

import json
import os
import re
import signal
import subprocess
import threading
import time

import harness
import hfwire
from harness import Relay, RedisCluster, key_slot


def on_cluster(cluster, **settings):
    """A standalone relay on the cluster's Redis store."""
    return Relay(**{"store.module": "redis", "store.cluster": cluster.seeds(), **settings}).start()


def accounts_on(cluster, node, count, prefix="acct", below_slot=None):
    """Account names whose slot the given primary serves (and, with
    below_slot, one of the slots below it)."""
    found, n = [], 0
    while len(found) < count:
        name = "%s%d" % (prefix, n)
        slot = key_slot(name)
        if cluster.node_of_slot(slot) is node and (below_slot is None or slot < below_slot):
            found.append(name)
        n += 1
    return found


def send_until_taken(conn, msg_id, payload, to="phone", deadline_s=40):
    """Sends one message, again with the same id while the store is
    unavailable, as libhandoff does; returns the statuses seen."""
    seen = []
    deadline = time.monotonic() + deadline_s
    while True:
        conn.send(hfwire.SEND, [("to", to), ("id", msg_id), ("payload", payload)])
        ack = conn.expect(hfwire.SEND_ACK, timeout=10)
        seen.append(ack["status"])
        if ack["status"] != hfwire.REJECTED:
            return seen
        assert ack["code"] == hfwire.ERR["store_unavailable"], ack
        assert time.monotonic() < deadline, "the store never came back"
        time.sleep(0.05)


class Receiver(threading.Thread):
    """A device that takes every DELIVER and acknowledges it; keeps (id,
    payload) in arrival order."""

    def __init__(self, conn):
        super().__init__(daemon=True)
        self.conn, self.got, self.running, self.closed = conn, [], True, False

    def run(self):
        while self.running:
            try:
                frame = self.conn.recv(timeout=0.2)
            except OSError:
                continue  # a read timeout: nothing came
            if frame is None:
                self.closed = True
                return
            mtype, fields = frame
            if mtype == hfwire.DELIVER:
                self.got.append((fields["id"], fields["payload"]))
                self.conn.send(hfwire.DELIVER_ACK, [("upto", fields["seq"])])

    def shown(self):
        """What a client shows: copies of one (from, id) dropped, as libhandoff does."""
        out, ids = [], set()
        for msg_id, payload in self.got:
            if msg_id not in ids:
                ids.add(msg_id)
                out.append(payload)
        return out

    def stop(self):
        self.running = False
        self.join(5)


def burst(relay, name, first, count):
    """count messages from name's pc to its phone, sent before any answer
    is read; the payloads acknowledged stored."""
    sender = relay.conn()
    sender.hello(relay.token(name, "pc"))
    for i in range(first, first + count):
        sender.send(hfwire.SEND, [("to", "phone"), ("id", i), ("payload", b"%s-%d" % (name.encode(), i))])
    stored = []
    for _ in range(count):
        ack = sender.expect(hfwire.SEND_ACK, timeout=15)
        if ack["status"] == hfwire.STORED:
            stored.append("%s-%d" % (name, ack["id"]))
    sender.close()
    return stored


def test_acknowledged_sends_survive_their_primary_killed():
    cluster = RedisCluster().start()
    relay = on_cluster(cluster)
    victim = cluster.node_of_slot(key_slot("acct0"))
    replica = cluster.replica_of(victim)
    names = accounts_on(cluster, victim, 4)
    acked = {name: burst(relay, name, 1, 30) for name in names}
    assert all(len(v) == 30 for v in acked.values()), acked
    # The replica stops, and the primary drops its link: a second burst
    # reaches only the primary, which must not call it stored (with
    # store.replicas = 0 it would, and lose it); then the primary dies and
    # the replica, woken, takes over without that burst.
    replica.proc.send_signal(signal.SIGSTOP)
    victim.cli("CLIENT", "KILL", "TYPE", "replica")  # and what is in flight to it
    for name in names:
        acked[name] += burst(relay, name, 31, 10)
    # Their resends too (same ids): the primary has them, so they are
    # duplicates, answered under the same replication proof as new ones
    # (812d479 answered them stored, and the phone never got them).
    for name in names:
        acked[name] += burst(relay, name, 31, 10)
    victim.kill()
    replica.proc.send_signal(signal.SIGCONT)
    cluster.wait_ok(replicated=False)
    assert cluster.node_of_slot(key_slot(names[0])) is replica
    for name in names:
        code, out, err = relay.cli(relay.token(name, "phone"), "listen", "--count", str(len(acked[name])),
                                   "--timeout", "30")
        assert code == 0, (code, err)
        assert out.splitlines() == acked[name], (name, out)


def test_one_senders_messages_stay_in_order_while_the_cluster_is_down():
    """A primary dies: until its replica takes over, the other primaries
    answer CLUSTERDOWN for every slot, and the store sends each pass's
    script again after a pause. A pass made meanwhile must wait behind
    those, not run first: the phone shows one sender's messages in the
    order they were sent. Found by test/nemesis (a Redis primary cut off
    from the others); before the fix the phone showed later messages
    before earlier ones (3 runs of 3)."""
    cluster = RedisCluster().start()
    relay = on_cluster(cluster)
    victim = cluster.node_of_slot(key_slot("acct0"))
    live = next(n for lo, hi, a in cluster.slot_ranges() for n in cluster.nodes
                if n.address() == a and n is not victim)
    name = accounts_on(cluster, live, 1)[0]
    phone = relay.conn()
    phone.hello(relay.token(name, "phone"))
    receiver = Receiver(phone)
    receiver.start()
    pc = relay.conn()
    pc.hello(relay.token(name, "pc"))
    victim.kill()
    count = 0
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        count += 1
        pc.send(hfwire.SEND, [("to", "phone"), ("id", count), ("payload", b"m%d" % count)])
        time.sleep(0.02)
    answers = [pc.expect(hfwire.SEND_ACK, timeout=20) for _ in range(count)]
    stored = [a["id"] for a in answers if a["status"] != hfwire.REJECTED]
    assert stored, answers[:3]
    harness.wait_until(lambda: len(receiver.shown()) >= len(stored), 20, "every stored message shown")
    receiver.stop()
    shown = [int(p[1:]) for p in receiver.shown()]
    assert shown == sorted(shown), [(a, b) for a, b in zip(shown, shown[1:]) if b < a][:5]
    assert set(stored) <= set(shown), set(stored) - set(shown)


def test_a_resend_is_not_acknowledged_without_its_replica_on_one_redis():
    """One Redis primary with a replica and store.replicas = 1: with the
    replica stopped, a SEND and its resend (the same id) are both
    store_unavailable; once it runs again the resend is stored, and the
    phone gets every message once."""
    primary = harness.RedisServer().start()
    replica = harness.RedisServer(replica_of=primary).start()
    harness.wait_until(lambda: "master_link_status:up" in replica.cli("INFO", "replication"), 10, "the replica to sync")
    relay = Relay(**{"store.module": "redis", "store.address": primary.address(), "store.replicas": 1,
                     "store.wait_timeout": "300ms"}).start()
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))

    def send(msg_id):
        pc.send(hfwire.SEND, [("to", "phone"), ("id", msg_id), ("payload", b"m%d" % msg_id)])
        ack = pc.expect(hfwire.SEND_ACK, timeout=10)
        return ack["status"], ack.get("code")

    assert send(1) == (hfwire.STORED, None)
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        unavailable = (hfwire.REJECTED, hfwire.ERR["store_unavailable"])
        assert send(2) == unavailable
        assert send(2) == unavailable, "a resend was acknowledged without its replica"
        assert send(1) == unavailable, "a resend was acknowledged without its replica"
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    harness.wait_until(lambda: send(2) == (hfwire.STORED, None), 15, "the resend to be stored")
    code, out, err = relay.cli(relay.token("alice", "phone"), "listen", "--count", "2", "--timeout", "20")
    assert (code, out.splitlines()) == (0, ["m1", "m2"]), (code, out, err)


def test_a_revocation_and_a_subscription_wait_for_their_replica():
    """store.replicas = 1 with the replica stopped: a revocation and a Web
    Push subscription are refused store_unavailable (the API's 503, the
    device's SUBSCRIBE refusal), not acknowledged on the primary alone,
    where a failover could lose them (a stolen device let in again, an
    endpoint answering 410 for good); both go through once it runs.
    Before, both were acknowledged at once."""
    primary = harness.RedisServer().start()
    replica = harness.RedisServer(replica_of=primary).start()
    harness.wait_until(lambda: "master_link_status:up" in replica.cli("INFO", "replication"), 10, "the replica to sync")
    relay = Relay(api_keys=True, **{"store.module": "redis", "store.address": primary.address(), "store.replicas": 1,
                                    "store.wait_timeout": "300ms"})
    relay.settings["push.key_file"] = os.path.join(relay.dir, "push.secret")
    relay.write_config()
    relay.start()
    token = relay.token("alice", "phone")
    keys = os.path.join(relay.dir, "phone.keys")
    subscribe = ("--keys", keys, "subscribe", "--app", "news")
    for device in ("phone", "pc"):  # known to the account
        assert relay.cli(relay.token("alice", device), "ping")[0] == 0
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        status, body = relay.api("POST", "/v1/accounts/alice/devices/pc/revoke")
        assert (status, body["error"]) == (503, "store_unavailable"), body
        code, _, err = relay.cli(token, *subscribe)
        assert code == 1 and "store_unavailable" in err, err
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    harness.wait_until(lambda: relay.api("POST", "/v1/accounts/alice/devices/pc/revoke")[0] == 200, 15,
                       "the revocation to be kept")
    code, out, err = relay.cli(token, *subscribe)
    assert code == 0 and json.loads(out)["endpoint"].startswith("https://"), err


def test_readyz_tells_a_stopped_redis_and_a_missing_replica():
    """/readyz is 503 with a reason while Redis does not answer (SIGSTOP)
    and 200 again once it does; /livez answers all along. With
    store.replicas = 1 and no replica, the first send is refused and
    /readyz says why. On 812d479 /healthz said ok through both."""
    redis = harness.RedisServer().start()
    relay = Relay(**{"store.module": "redis", "store.address": redis.address(), "store.replicas": 1,
                     "store.wait_timeout": "200ms"}).start()
    assert relay.probe("/readyz") == (200, '{"ready":true}\n')
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        def stopped():
            status, body = relay.probe("/readyz")
            return status == 503 and "the store has not answered" in body and body
        body = harness.wait_until(stopped, 10, "/readyz to say the store does not answer")
        assert json.loads(body)["ready"] is False
        assert relay.probe("/livez") == (200, "ok\n")
        assert relay.probe("/healthz")[0] == 503
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    harness.wait_until(lambda: relay.probe("/readyz")[0] == 200, 10, "/readyz ready again")
    # No replica: a send is refused, and readiness says why.
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"x")])
    assert pc.expect(hfwire.SEND_ACK)["code"] == hfwire.ERR["store_unavailable"]
    status, body = relay.probe("/readyz")
    assert status == 503 and "a WAIT for store.replicas = 1 reached 0" in body, body


def test_a_send_to_a_redis_that_hangs_is_answered_while_it_hangs():
    """A Redis that stops answering (SIGSTOP: as a partition looks) is
    given up on after store.timeout: a send waiting on it is answered
    store_unavailable while it is still stopped, and the store works
    again once it answers. Before the fix the connection was closed
    gracefully, which waits for the replies still out: the send hung until
    the Redis came back."""
    redis = harness.RedisServer().start()
    relay = Relay(**{"store.module": "redis", "store.address": redis.address(), "store.timeout": "500ms",
                     "delivery.store_retry": "200ms"}).start()
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"x")])
        ack = pc.expect(hfwire.SEND_ACK, timeout=5)
        assert (ack["status"], ack["code"]) == (hfwire.REJECTED, hfwire.ERR["store_unavailable"]), ack
        assert "no answer within store.timeout" in relay.log()
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    def stored():
        pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"x")])
        return pc.expect(hfwire.SEND_ACK, timeout=5)["status"] == hfwire.STORED
    harness.wait_until(stored, 10, "the store back")


def test_a_cluster_without_replicas_is_said_at_start_and_in_readyz():
    """A Redis Cluster whose primaries have no replica, under the default
    store.replicas (1 on a cluster): every send would be refused, so the
    start logs why and /readyz is 503 saying so (812d479 said nothing)."""
    cluster = RedisCluster(replicas=0).start()
    relay = on_cluster(cluster)
    harness.wait_until(lambda: "have 0 replicas and store.replicas asks 1" in relay.log(), 10, "the start to say so")
    status, body = relay.probe("/readyz")
    assert status == 503 and "have 0 replicas and store.replicas asks 1" in body, body


def test_after_a_fault_a_slots_enqueues_wait_for_its_unanswered_one():
    """N11. For 10 s after a sign of a failover (here the server's
    connections to the node cut), a slot's enqueue script goes only once
    the one before it has answered; the sends of the passes meanwhile
    gather into one. The node is then paused (CLIENT PAUSE WRITE) under a
    sender's first message, and its next four, each in a pass of its own,
    reach Redis as one script after it: two scripts, not five. Before,
    each went as sent, pipelined behind the first, and a first refused
    CLUSTERDOWN (a failover) was sent again after the later ones had run:
    a sender's later message numbered before its earlier one (3 in a
    nemesis run of a stopped primary)."""
    cluster = RedisCluster(replicas=0).start()
    relay = on_cluster(cluster, **{"store.replicas": 0, "cluster.presence_ttl": "1h"})
    node = cluster.node_of_slot(key_slot("alice"))

    def scripts_run():
        stats = node.cli("INFO", "commandstats")
        return sum(int(m) for m in re.findall(r"^cmdstat_eval(?:sha)?:calls=(\d+)", stats, re.M))
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))
    node.cli("CLIENT", "KILL", "TYPE", "normal")
    harness.wait_until(lambda: "Redis %s is back" % node.address() in relay.log(), 10, "the server back on the node")
    time.sleep(0.3)  # HELLO's scripts run
    before = scripts_run()
    node.cli("CLIENT", "PAUSE", "1500", "WRITE")
    for i in range(1, 6):
        pc.send(hfwire.SEND, [("to", "phone"), ("id", i), ("payload", b"m%d" % i)])
        time.sleep(0.1)
    acks = [pc.expect(hfwire.SEND_ACK, timeout=10) for _ in range(5)]
    assert [a["status"] for a in acks] == [hfwire.STORED] * 5, acks
    assert scripts_run() - before == 2, "enqueue scripts run: %d" % (scripts_run() - before)
    phone = relay.conn()
    phone.hello(relay.token("alice", "phone"))
    got = [phone.expect(hfwire.DELIVER) for _ in range(5)]
    assert [(g["seq"], g["payload"]) for g in got] == [(i, b"m%d" % i) for i in range(1, 6)], got


def test_a_primary_killed_under_load_costs_store_unavailable_then_traffic_goes_on():
    cluster = RedisCluster().start()
    relay = on_cluster(cluster, **{"delivery.store_retry": "100ms"})
    victim = cluster.node_of_slot(key_slot("acct0"))
    name = accounts_on(cluster, victim, 1)[0]
    sender, phone = relay.conn(), relay.conn()
    sender.hello(relay.token(name, "pc"))
    phone.hello(relay.token(name, "phone"))
    receiver = Receiver(phone)
    receiver.start()
    statuses = []
    for i in range(1, 301):
        if i == 100:
            victim.kill()

            # The promoted replica needs a replica of its own before
            # store.replicas = 1 acknowledges again (a resend too, since
            # the fix for resends acknowledged without their replica):
            # the old primary comes back as one once the failover is done,
            # while the sender keeps resending.
            def bring_back():
                cluster.wait_ok(replicated=False)
                victim.start()
            threading.Thread(target=bring_back, daemon=True).start()
        statuses += send_until_taken(sender, i, b"m%d" % i)
    assert hfwire.REJECTED in statuses, "the kill was never seen"
    harness.wait_until(lambda: len(receiver.shown()) >= 300, 30, "every message delivered")
    receiver.stop()
    assert receiver.shown() == [b"m%d" % i for i in range(1, 301)], receiver.shown()
    assert not receiver.closed, "the receiver lost its connection"
    sender.send(hfwire.PING, [("id", 9)])
    assert sender.expect(hfwire.PONG)["id"] == 9, "the sender lost its connection"


def test_slots_move_under_traffic_with_nothing_lost_repeated_or_reordered():
    cluster = RedisCluster().start()
    relay = on_cluster(cluster, **{"delivery.store_retry": "100ms"})
    source = cluster.node_of_slot(0)
    target = cluster.node_of_slot(16383)
    moved = 40  # redis-cli takes a source's lowest slots first
    name = accounts_on(cluster, source, 1, prefix="moving", below_slot=moved)[0]
    sender, phone = relay.conn(), relay.conn()
    sender.hello(relay.token(name, "pc"))
    phone.hello(relay.token(name, "phone"))
    receiver = Receiver(phone)
    receiver.start()
    reshard = subprocess.Popen(
        ["redis-cli", "--cluster", "reshard", source.address(), "--cluster-from", cluster.node_id(source),
         "--cluster-to", cluster.node_id(target), "--cluster-slots", str(moved), "--cluster-yes",
         "--cluster-pipeline", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    i = 0
    while reshard.poll() is None or i < 200:
        i += 1
        send_until_taken(sender, i, b"r%d" % i)
    assert reshard.returncode == 0, reshard.stdout.read()
    assert cluster.node_of_slot(key_slot(name)) is target
    harness.wait_until(lambda: len(receiver.shown()) >= i, 30, "every message delivered")
    receiver.stop()
    assert receiver.shown() == [b"r%d" % n for n in range(1, i + 1)], receiver.shown()[:50]
    assert not receiver.closed


def test_a_cluster_unreachable_at_start_is_one_log_line_then_served():
    cluster = RedisCluster()  # ports chosen, nothing listening yet
    relay = on_cluster(cluster, **{"log.level": "info"})
    code, _, err = relay.cli(relay.token("alice", "pc"), "send", "--to", "phone", "too early")
    assert code == 1 and "store_unavailable" in err, (code, err)
    time.sleep(1.5)  # reconnect attempts go on meanwhile
    warnings = [line for line in relay.log().splitlines() if "Redis" in line and "warning" in line]
    assert len(warnings) == 1 and "no seed node answers" in warnings[0], warnings
    cluster.start()
    deadline = time.monotonic() + 20
    while True:
        code, out, err = relay.cli(relay.token("alice", "pc"), "send", "--to", "phone", "in time")
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert (code, out) == (0, "stored\n"), (code, out, err)
    code, out, _ = relay.cli(relay.token("alice", "phone"), "listen", "--count", "1", "--timeout", "10")
    assert out == "in time\n", out


def test_a_killed_servers_devices_rehome_and_find_their_queues():
    alloc, (s1, s2) = harness.servers_sharing({"store.module": "redis", "store.cluster": harness.shared_cluster().seeds(),
                                               "store.prefix": "rehome:"})
    a, b = s1.conn(), s2.conn()
    a.hello(alloc.token("alice", "a"))
    b.hello(alloc.token("alice", "b"))
    time.sleep(0.2)  # presence written
    b.send(hfwire.SEND, [("to", "a"), ("id", 1), ("payload", b"live across servers")])
    msg = a.expect(hfwire.DELIVER, timeout=5)
    assert msg["payload"] == b"live across servers"
    a.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    a.send(hfwire.PING, [("id", 1)])
    assert a.expect(hfwire.PONG)["id"] == 1
    time.sleep(0.3)  # the acknowledgement applied, so that it is not delivered again
    harness.kill_and_rehome(alloc, s1, s2, b)


if __name__ == "__main__":
    harness.run(dict(globals()))
