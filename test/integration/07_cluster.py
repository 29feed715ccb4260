"""07: one or two allocators and several servers: placement, failover, backoff, drain, lapse."""

import collections
import signal
import socket
import time

import harness
import hfwire
from harness import Relay, finish_background

FAST = {"allocator.backoff_base": "100ms", "allocator.backoff_cap": "500ms"}


def cluster(servers=3, allocators=1, refresh="500ms", **server_settings):
    first = Relay("allocator", server_id="a1", **{"allocator.refresh_interval": refresh}, **FAST)
    allocs = [first] + [Relay("allocator", share=first, server_id="a%d" % (i + 2),
                              **{"allocator.refresh_interval": refresh}, **FAST)
                        for i in range(allocators - 1)]
    for a in allocs:
        a.start()
    addrs = ["127.0.0.1:%d" % a.alloc_port for a in allocs]
    nodes = []
    for i in range(servers):
        s = Relay("server", share=first, server_id="s%d" % (i + 1),
                  **{"register.allocators": addrs}, **server_settings)
        nodes.append(s.start())
    for a in allocs:
        for s in nodes:
            harness.wait_until(lambda: "server %s registered" % s.server_id in a.log(), 10,
                               "%s registered with %s" % (s.server_id, a.server_id))
    return allocs, nodes


def server_at(nodes, address):
    return next(s for s in nodes if s.address() == address)


def online_on(server, account, device):
    return "%s/%s online" % (account, device) in server.log()


def test_accounts_meet_on_one_server_and_spread_over_all():
    (alloc,), nodes = cluster(servers=3)
    first_choice = collections.Counter()
    accounts = 300
    for n in range(accounts):
        account = "user%d" % n
        lists = [hfwire.allocate(alloc.alloc_port, alloc.ca, alloc.quick_token(account, d))
                 for d in ("pc", "phone")]
        assert lists[0] == lists[1], (account, lists)
        assert len(lists[0]) == 3 and len(set(lists[0])) == 3, lists
        first_choice[lists[0][0]] += 1
    # Stated tolerance: each server is first choice for a third of the
    # accounts, +-30% (more than 3.5 standard deviations at 300 accounts).
    assert len(first_choice) == 3, first_choice
    for count in first_choice.values():
        assert 70 <= count <= 130, first_choice
    # And two real devices of one account meet: the send is delivered live.
    phone = alloc.token("alice", "phone")
    listener = alloc.cli_background(phone, "listen", "--count", "1", "--timeout", "10")
    home = server_at(nodes, hfwire.allocate(alloc.alloc_port, alloc.ca, alloc.quick_token("alice", "x"))[0])
    harness.wait_until(lambda: online_on(home, "alice", "phone"), 10, "phone online at its first server")
    code, out, err = alloc.cli(alloc.token("alice", "pc"), "send", "--to", "phone", "met")
    assert (code, out) == (0, "delivered\n"), (code, out, err)
    assert finish_background(listener)[1] == "met\n"


def test_kill_9_moves_devices_to_the_next_server():
    interval_s = 1.0
    (alloc,), nodes = cluster(servers=3, **{"heartbeat.interval": "1s", "heartbeat.grace": "0s"})
    ranked = hfwire.allocate(alloc.alloc_port, alloc.ca, alloc.quick_token("alice", "x"))
    home, second = server_at(nodes, ranked[0]), server_at(nodes, ranked[1])
    listener = alloc.cli_background(alloc.token("alice", "phone"), "--verbose", "listen", "--count", "2",
                                    "--timeout", "30")
    harness.wait_until(lambda: online_on(home, "alice", "phone"), 10, "phone online at home")
    assert alloc.cli(alloc.token("alice", "pc"), "send", "--to", "phone", "one")[1] == "delivered\n"
    killed = time.monotonic()
    home.stop(signal.SIGKILL)
    # Bound from the heartbeat settings: a lost FIN would be noticed within
    # one interval plus the ping wait (<= the interval); then backoff (cap
    # 0.5 s) and the connect. The kernel's FIN usually makes it immediate.
    bound = 2 * interval_s + 0.5 + 1.0
    try:
        harness.wait_until(lambda: online_on(second, "alice", "phone"), bound + 5, "phone on the second server")
    except AssertionError:
        listener.kill()
        print("listener's trace:\n" + listener.communicate()[1])
        raise
    moved_after = time.monotonic() - killed
    assert moved_after <= bound, "moved after %.2fs, bound %.2fs" % (moved_after, bound)
    # And the devices keep exchanging data: the pc finds the same server.
    code, out, err = alloc.cli(alloc.token("alice", "pc"), "send", "--to", "phone", "two")
    assert (code, out) == (0, "delivered\n"), (code, out, err)
    code, out, err = finish_background(listener)
    assert (code, out) == (0, "one\ntwo\n"), (code, out, err)
    assert "server %s failed" % home.address() in err, err


def test_all_servers_down_backs_off_and_recovers():
    (alloc,), (server,) = cluster(servers=1)
    server.stop(signal.SIGKILL)
    harness.wait_until(lambda: "disconnected; left out" in alloc.log(), 5, "server dropped")
    sender = alloc.cli_background(alloc.token("alice", "pc"), "--verbose", "send", "--to", "phone",
                                  "--timeout", "30", "patient")
    time.sleep(0.5)
    before = alloc.log().count("no server to offer")
    window = 4.0
    time.sleep(window)
    asked = alloc.log().count("no server to offer") - before
    # Backoff with full jitter, base 100 ms, cap 500 ms: about 4 s / 0.25 s
    # = 16 requests on average; a tight loop would make thousands.
    assert 2 <= asked <= 40, "allocator asked %d times in %.0fs" % (asked, window)
    server.start()
    code, out, err = finish_background(sender, timeout=30)
    assert (code, out) == (0, "stored\n"), (code, out, err)
    assert "backing-off" in err, err


def test_sigterm_moves_every_device_before_exit():
    (alloc,), nodes = cluster(servers=2, **{"drain.timeout": "10s"})
    s1, s2 = nodes
    # Accounts whose first choice is s1, two devices each.
    accounts = [a for a in ("acct%d" % n for n in range(40))
                if hfwire.allocate(alloc.alloc_port, alloc.ca, alloc.quick_token(a, "x"))[0] == s1.address()][:4]
    listeners = []
    for account in accounts:
        for device in ("pc", "phone"):
            listeners.append(alloc.cli_background(alloc.token(account, device), "--verbose", "listen",
                                                  "--timeout", "25"))
    for account in accounts:
        for device in ("pc", "phone"):
            harness.wait_until(lambda: online_on(s1, account, device), 10, "%s/%s on s1" % (account, device))
    s1.proc.send_signal(signal.SIGTERM)
    s1.proc.wait(15)
    # s1 exits only after every device left, and a device leaves only once
    # s2 has welcomed it: so all are on s2 now.
    for account in accounts:
        for device in ("pc", "phone"):
            assert online_on(s2, account, device), "%s/%s not on s2 when s1 exited" % (account, device)
    assert "drained: every device has left" in s1.log()
    assert "server s1 is draining" in alloc.log()
    # An orderly drain is no warning on the allocator (812d479 warned).
    harness.wait_until(lambda: "disconnected after its drain" in alloc.log(), 10, "s1's connection to close")
    assert "warning allocator: server s1 (" not in alloc.log(), alloc.log()[-1500:]
    # Still exchanging data.
    code, out, _ = alloc.cli(alloc.token(accounts[0], "tablet"), "send", "--to", "phone", "after drain")
    assert (code, out) == (0, "delivered\n"), out
    for proc in listeners:
        proc.kill()
        proc.wait()


def test_two_allocators_agree_and_lapsed_server_disappears():
    allocs, nodes = cluster(servers=3, allocators=2, refresh="300ms")
    a1, a2 = allocs
    for n in range(50):
        token = a1.quick_token("user%d" % n, "pc")
        assert hfwire.allocate(a1.alloc_port, a1.ca, token) == hfwire.allocate(a2.alloc_port, a2.ca, token)
    stuck = nodes[0]
    stuck.proc.send_signal(signal.SIGSTOP)  # alive but silent: no refresh
    stopped = time.monotonic()
    try:
        for a in allocs:
            harness.wait_until(lambda: "server s1 (%s) lapsed" % stuck.address() in a.log(), 5, "s1 lapsed")
        # One refresh period (300 ms) and its half-period grace, plus polling.
        assert time.monotonic() - stopped < 2.0
        for n in range(20):
            token = a1.quick_token("user%d" % n, "pc")
            for a in allocs:
                assert stuck.address() not in hfwire.allocate(a.alloc_port, a.ca, token)
    finally:
        stuck.proc.send_signal(signal.SIGCONT)
    # Back again once it refreshes.
    harness.wait_until(lambda: a1.log().count("server s1 registered") >= 2, 10, "s1 registered again")


def test_a_silent_allocator_is_noticed_and_the_server_is_not_ready():
    """An allocator that stops answering (SIGSTOP: as a partition looks
    from the server) no longer counts as accepting the server once a
    REGISTER waits as long as the allocator would take to lapse it: the
    server's /readyz says so, and it registers again once the allocator
    answers. Found by test/nemesis (a server cut off from both allocators
    said ready); before the fix /readyz stayed 200 while the allocator
    was stopped."""
    allocs, nodes = cluster(servers=1, allocators=1, refresh="300ms")
    alloc, server = allocs[0], nodes[0]
    assert server.probe("/readyz")[0] == 200
    alloc.proc.send_signal(signal.SIGSTOP)
    try:
        harness.wait_until(lambda: server.probe("/readyz")[0] == 503, 10, "the server to say it is not ready")
        status, body = server.probe("/readyz")
        assert "no answer to REGISTER within 450 ms" in body, body
    finally:
        alloc.proc.send_signal(signal.SIGCONT)
    harness.wait_until(lambda: server.probe("/readyz")[0] == 200, 10, "the server ready again")
    assert "register: registered with allocator" in server.log().split("no answer to REGISTER")[-1]


def test_an_allocator_that_takes_the_connection_and_never_answers_is_tried_again():
    """A link to an allocator that hangs before its REGISTER_ACK (here a
    socket that accepts and never speaks TLS; in the nemesis a connect
    into a partition, whose SYNs the kernel resends for two minutes) is
    given up on after the time the allocator would take to lapse the
    server, and made again. Before the fix the server waited on it
    forever, and after a partition healed stayed unregistered for a
    minute or more."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes connects; nothing answers
    try:
        first = Relay("allocator", server_id="a1")
        server = Relay("server", share=first, server_id="s1",
                       **{"register.allocators": ["127.0.0.1:%d" % silent.getsockname()[1]],
                          "allocator.refresh_interval": "300ms"}).start()
        said = "no REGISTER_ACK within 450 ms of connecting"
        harness.wait_until(lambda: said in server.probe("/readyz")[1], 10, "the hung link given up on")
        assert server.probe("/readyz")[0] == 503
    finally:
        silent.close()


def raw_register(alloc, server_id, *fields):
    """A REGISTER of server_id with the cluster key, and fields, on a new
    connection to alloc; the connection."""
    with open(alloc.settings["cluster.key_file"]) as f:
        key = f.read().strip()
    conn = alloc.conn(alloc.alloc_port)
    conn.send(hfwire.REGISTER, [("server_id", server_id), ("key", key), ("address", "127.0.0.1:9"),
                                ("weight", 1)] + list(fields))
    return conn


def test_a_server_that_does_not_speak_the_allocators_protocol_version_is_refused():
    """A REGISTER carries the protocol versions the server speaks; an
    allocator refuses one without its own, logged and counted, so that a
    rolling upgrade across versions sends no device to a server it cannot
    talk to. A REGISTER without the range (a server of an older release)
    speaks version 1."""
    alloc = Relay("allocator", server_id="a1").start()

    def register(server_id, *versions):
        return raw_register(alloc, server_id, *versions)

    newer = register("s9", ("version_min", 2), ("version_max", 3))
    error = newer.expect(hfwire.ERROR)
    assert error["code"] == hfwire.ERR["unsupported_version"], error
    assert "protocol versions 2..3, and this allocator 1" in error["text"], error
    assert alloc.metric("handoff_registrations_refused_total") == 1
    assert "REGISTER of s9" in alloc.log() and "share a protocol version" in alloc.log()
    for versions in ([("version_min", 1), ("version_max", 2)], []):
        ack = register("s8", *versions).expect(hfwire.REGISTER_ACK)
        assert ack["code"] == 0, ack


def test_a_server_that_writes_the_shared_store_in_another_format_is_refused():
    """A server on a store servers share registers the format it writes it
    in; an allocator refuses one of the same kind of store in another
    format while a server of the first lives, so that a rolling upgrade
    that changes the format cannot run both at once. Another kind, and a
    store of a server's own (no format sent), are not compared. A real
    server on Redis sends its format."""
    alloc = Relay("allocator", server_id="a1").start()

    def register(server_id, *store_format):
        return raw_register(alloc, server_id, *[("store_format", f) for f in store_format])

    held = [register("s1", "handoff-redis 1")]
    assert held[0].expect(hfwire.REGISTER_ACK)["code"] == 0
    error = register("s2", "handoff-redis 2").expect(hfwire.ERROR)
    assert error["code"] == hfwire.ERR["unsupported_version"], error
    assert ('it writes the shared store as "handoff-redis 2", and live server s1 writes the shared store as '
            '"handoff-redis 1"') in error["text"], error
    assert alloc.metric("handoff_registrations_refused_total") == 1
    for server_id, store_format in (("s3", ["handoff-redis 1"]), ("s4", ["handoff-other 7"]), ("s5", [])):
        held.append(register(server_id, *store_format))
        assert held[-1].expect(hfwire.REGISTER_ACK)["code"] == 0, server_id
    for conn in held:
        conn.close()
    # Real servers on Redis register their store's format.
    redis = harness.RedisServer().start()
    alloc2, _ = harness.servers_sharing({"store.module": "redis", "store.address": redis.address(),
                                         "store.prefix": "fmt:"})
    assert "server s1 registered at" in alloc2.log() and "shared store handoff-redis 1)" in alloc2.log()


def test_wrong_cluster_key_is_refused():
    (alloc,), _ = cluster(servers=1)
    import os
    bad_key = os.path.join(alloc.dir, "wrong.key")
    with open(bad_key, "w") as f:
        f.write("this is not the cluster key\n")
    rogue = Relay("server", share=alloc, server_id="rogue",
                  **{"register.allocators": ["127.0.0.1:%d" % alloc.alloc_port], "cluster.key_file": bad_key})
    rogue.start()
    harness.wait_until(lambda: "REGISTER of rogue from" in alloc.log(), 5, "refusal logged")
    assert "wrong key" in alloc.log()
    harness.wait_until(lambda: "auth_failed" in rogue.log(), 5, "rogue told why")
    assert "server rogue registered" not in alloc.log()
    # Not ready: no allocator sends it devices (812d479's /healthz said ok).
    status, body = rogue.probe("/readyz")
    assert status == 503 and "no allocator has accepted this server's registration" in body, body
    assert "auth_failed" in body and rogue.probe("/livez")[0] == 200
    # A server the allocator accepted is ready.
    _, (good,) = cluster(servers=1)
    harness.wait_until(lambda: good.probe("/readyz")[0] == 200, 10, "a registered server to be ready")


def test_each_server_registers_with_its_own_key_and_no_other_id():
    """An allocator with cluster.servers takes each server only with its
    own key: s2's key cannot register as s1 (before, one shared key
    registered any server_id, which could then be every account's first
    server and collect device tokens), an id it does not list is refused,
    and so is a weight past cluster.max_weight. Each refusal is logged and
    counted."""
    import os
    alloc = Relay("allocator", server_id="a1", **FAST)
    keys = {}
    for sid in ("s1", "s2"):
        keys[sid] = os.path.join(alloc.dir, sid + ".key")
        with open(keys[sid], "w") as f:
            f.write("key of %s, %s\n" % (sid, os.urandom(8).hex()))
    alloc.settings["cluster.servers"] = [("s1", keys["s1"]), ("s2", keys["s2"], 500)]
    alloc.settings["cluster.max_weight"] = 500
    alloc.settings["cluster.key_file"] = None
    alloc.write_config()
    alloc.start()
    at = ["127.0.0.1:%d" % alloc.alloc_port]

    def server(sid, key, **settings):
        return Relay("server", share=alloc, server_id=sid,
                     **{"register.allocators": at, "cluster.key_file": key}, **settings).start()
    impostor = server("s1", keys["s2"])  # a valid key, another server's id
    harness.wait_until(lambda: "REGISTER of s1 from" in alloc.log(), 5, "the impostor refused")
    assert "wrong key for this server" in alloc.log()
    harness.wait_until(lambda: "auth_failed" in impostor.log(), 5, "the impostor told why")
    stranger = server("s9", keys["s2"])
    harness.wait_until(lambda: "not a server of cluster.servers" in alloc.log(), 5, "an unknown id refused")
    heavy = server("s2", keys["s2"], **{"register.weight": 501})
    harness.wait_until(lambda: "past cluster.max_weight 500" in alloc.log(), 5, "the weight refused")
    assert "registered" not in alloc.log(), alloc.log()
    for s in (impostor, stranger, heavy):
        assert s.probe("/readyz")[0] == 503
        s.stop()
    page = alloc.probe("/metrics")[1]
    assert harness.metric_value(page, "handoff_registrations_refused_total") >= 3, page
    # The real ones, each with its own key, register and serve.
    s1 = server("s1", keys["s1"])
    s2 = server("s2", keys["s2"], **{"register.weight": 500})
    for s in (s1, s2):
        harness.wait_until(lambda: "server %s registered" % s.server_id in alloc.log(), 10, s.server_id)
    code, out, err = alloc.cli(alloc.token("alice", "pc"), "send", "--to", "phone", "hi")
    assert (code, out) == (0, "stored\n"), (code, out, err)


if __name__ == "__main__":
    harness.run(dict(globals()))
