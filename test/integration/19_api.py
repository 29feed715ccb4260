"""19: the HTTP API (docs/api.md) against real daemons, with curl: messages
from a backend, the device list, revoke, restore and disconnect (on one
server and across two sharing Redis), and every class of bad request."""

import json
import os
import re
import signal
import subprocess
import time

import harness
import hfwire
from harness import Relay


def online(relay, device, account="alice"):
    conn = relay.conn()
    conn.hello(relay.token(account, device))
    return conn


def test_send_to_online_offline_and_every_device():
    relay = Relay(api_keys=True).start()
    phone = online(relay, "phone")
    # Answered once the phone has acknowledged it: the call waits meanwhile.
    call = harness.in_background(relay.api, "POST", "/v1/accounts/alice/messages", {"to": "phone", "data": "bookmarked"})
    msg = phone.expect(hfwire.DELIVER)
    assert msg["payload"] == b"bookmarked" and msg["from"] == "@backend", msg
    phone.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    status, body = call()
    assert status == 200 and body["status"] == "delivered", body
    status, body = relay.api("POST", "/v1/accounts/alice/messages",
                             {"to": "tablet", "data_base64": "AAEC/w==", "ttl": 60, "collapse": "sync"})
    assert (status, body["status"], body["stored"]) == (200, "stored", 1), body
    tablet = online(relay, "tablet")
    assert tablet.expect(hfwire.DELIVER)["payload"] == b"\x00\x01\x02\xff"
    tablet.send(hfwire.DELIVER_ACK, [("upto", 1)])
    call = harness.in_background(relay.api, "POST", "/v1/accounts/alice/messages", {"to": "*", "data": "to all"})
    for dev in (phone, tablet):
        got = dev.expect(hfwire.DELIVER)
        assert got["payload"] == b"to all" and got["from"] == "@backend"
        dev.send(hfwire.DELIVER_ACK, [("upto", got["seq"])])
    status, body = call()
    assert (status, body["status"], body["delivered"]) == (200, "delivered", 2), body


def test_retry_with_the_same_id_is_stored_once():
    relay = Relay(api_keys=True).start()
    online(relay, "tablet").close()  # known to the account, now offline
    message = {"to": "tablet", "data": "once", "id": "41"}
    for _ in range(2):
        status, body = relay.api("POST", "/v1/accounts/alice/messages", message)
        assert (status, body["status"], body["id"]) == (200, "stored", "41"), body
    status, listing = relay.api("GET", "/v1/accounts/alice/devices")
    tablet = [d for d in listing["devices"] if d["device"] == "tablet"][0]
    assert (tablet["queue_messages"], tablet["online"]) == (1, False), listing
    conn = online(relay, "tablet")
    got = conn.expect(hfwire.DELIVER)
    assert got["payload"] == b"once"
    conn.send(hfwire.DELIVER_ACK, [("upto", got["seq"])])
    conn.send(hfwire.PING, [("id", 9)])
    assert conn.expect(hfwire.PONG)["id"] == 9  # and no second copy before it


def test_a_retry_with_the_same_idempotency_key_is_stored_once():
    """Idempotency-Key: a string key maps to the id the first call got; a
    retry of an older key, after other messages, is still the original
    (not stored); too long, beside an "id", and turned off are 400."""
    relay = Relay(api_keys=True).start()
    online(relay, "tablet").close()

    def post(data, key):
        return relay.api("POST", "/v1/accounts/alice/messages", {"to": "tablet", "data": data},
                         headers=["Idempotency-Key: " + key])

    status, first = post("one", "order-1 é")
    assert (status, first["status"]) == (200, "stored"), first
    status, second = post("two", "order-2")
    assert status == 200 and second["id"] != first["id"], second
    for data, key, want in (("one", "order-1 é", first), ("two", "order-2", second), ("one", "order-1 é", first)):
        status, again = post(data, key)
        assert (status, again["status"], again["id"]) == (200, "stored", want["id"]), again
    status, listing = relay.api("GET", "/v1/accounts/alice/devices")
    tablet = [d for d in listing["devices"] if d["device"] == "tablet"][0]
    assert tablet["queue_messages"] == 2, listing
    conn = online(relay, "tablet")
    got = [conn.expect(hfwire.DELIVER) for _ in range(2)]
    assert [(d["payload"], str(d["id"])) for d in got] == [(b"one", first["id"]), (b"two", second["id"])], got
    conn.send(hfwire.DELIVER_ACK, [("upto", got[-1]["seq"])])
    conn.send(hfwire.PING, [("id", 9)])
    assert conn.expect(hfwire.PONG)["id"] == 9  # and no third copy before it
    conn.close()

    status, body = post("x", "k" * 256)
    assert (status, body["error"]) == (400, "bad_field") and "1 to 255 bytes" in body["message"], body
    status, body = relay.api("POST", "/v1/accounts/alice/messages", {"to": "tablet", "data": "x", "id": 5},
                             headers=["Idempotency-Key: k"])
    assert (status, body["error"]) == (400, "bad_field") and '"id"' in body["message"], body
    relay.stop()
    relay.settings["api.idempotency_keys"] = 0
    relay.write_config()
    relay.start()
    status, body = post("x", "k")
    assert (status, body["error"]) == (400, "bad_field") and "api.idempotency_keys = 0" in body["message"], body


def servers_with_stores_of_their_own(members=False):
    """An allocator and two LMDB servers s1, s2 with APIs, each knowing the
    other from the allocator's REGISTER_ACK (members: the allocator lists
    them in cluster.servers)."""
    alloc, nodes = harness.servers_sharing({"store.module": "lmdb"}, api_keys=True, members=members)
    for s in nodes:
        harness.wait_until(lambda: "the cluster's servers: s1 s2" in s.log(), 10, s.server_id + " knows both")
    return alloc, nodes


def account_held_by(alloc, server):
    """An account the allocator ranks server first for."""
    for i in range(64):
        account = "user%d" % i
        first = hfwire.allocate(alloc.alloc_port, alloc.ca, alloc.token(account, "x"))[0]
        if first.endswith(":%d" % server.device_port):
            return account
    raise AssertionError("64 accounts, none on " + server.server_id)


def test_a_call_to_any_server_reaches_the_server_that_holds_the_account():
    """Two LMDB servers: calls to s2 for an account s1 holds are handed on
    to s1's API (the allocators' REGISTER_ACK lists each server's API), so
    a live device gets the message, an absent one finds it on s1, and the
    device list is s1's. On 0b7a94f s2 answered stored, kept the message
    in its own store, and the phone on s1 never got it."""
    alloc, (s1, s2) = servers_with_stores_of_their_own()
    account = account_held_by(alloc, s1)
    phone = online(s1, "phone", account)
    harness.post_live(s2, account, phone, "live")
    status, body = s2.api("POST", "/v1/accounts/%s/messages" % account, {"to": "tablet", "data": "later"},
                          headers=["Idempotency-Key: later"])
    assert (status, body["status"]) == (200, "stored"), body
    status, again = s2.api("POST", "/v1/accounts/%s/messages" % account, {"to": "tablet", "data": "later"},
                           headers=["Idempotency-Key: later"])
    assert (status, again["id"]) == (200, body["id"]), again
    tablet = online(s1, "tablet", account)
    assert tablet.expect(hfwire.DELIVER)["payload"] == b"later"
    tablet.send(hfwire.PING, [("id", 3)])
    assert tablet.expect(hfwire.PONG)["id"] == 3  # stored once
    tablet.close()
    status, listing = s2.api("GET", "/v1/accounts/%s/devices" % account)
    phones = [d for d in listing["devices"] if d["device"] == "phone"]
    assert status == 200 and phones and (phones[0]["online"], phones[0]["server"]) == (True, "s1"), listing
    code, out, err = s2.ctl("disconnect", account, "phone")
    assert code == 0 and "on s1" in out, (code, out, err)
    assert phone.expect(hfwire.ERROR)["code"] == hfwire.ERR["disconnected"]
    # Each call was taken by s2 and answered by s1: three messages, one
    # device list, one disconnect on each.
    for server in (s1, s2):
        page = server.probe("/metrics")[1]
        assert harness.metric_value(page, 'handoff_api_requests_total{route="messages",status="200"}') == 3, page
        assert harness.metric_value(page, 'handoff_api_requests_total{route="devices",status="200"}') == 1, page
    assert harness.metric_value(s2.probe("/metrics")[1], "handoff_messages_received_total") == 0
    # s1 dies: while the allocator still lists it, s2 answers 503 with
    # retry_ms (it cannot reach the account's server); once s1 has lapsed,
    # the account is s2's own and s2 stores the message.
    s1.stop(signal.SIGKILL)
    answers = []

    def stored_on_s2():
        status, body = s2.api("POST", "/v1/accounts/%s/messages" % account, {"to": "tablet", "data": "after"})
        answers.append((status, body.get("error") or body.get("status")))
        return status == 200
    harness.wait_until(stored_on_s2, 10, "s2 to take the account once s1 lapsed")
    assert set(answers) <= {(503, "server_unavailable"), (200, "stored")}, answers


def test_with_listed_members_an_account_waits_for_its_own_server():
    """N9. An allocator that lists its servers (cluster.servers), which
    keep stores of their own, ranks an account over all of them, up or
    not: only its own server is offered, any other refuses its devices
    (wrong_server) and hands its API calls on, and while its server is
    away its devices are told no_server and its calls 503, instead of
    both going to a server that has neither its messages nor its
    revocation. Before, the LMDB nemesis found 42 API messages stored on
    another server while the account's own was away, and a device revoked
    on its server let in on another."""
    alloc, (s1, s2) = servers_with_stores_of_their_own(members=True)
    account = account_held_by(alloc, s1)
    assert hfwire.allocate(alloc.alloc_port, alloc.ca, alloc.token(account, "x")) == [s1.address()]

    def refused_at_s2(device):
        conn = s2.conn()
        conn.send(hfwire.HELLO, [("token", s2.token(account, device)), ("version_min", 1), ("version_max", 1)])
        error = conn.expect(hfwire.ERROR)
        conn.close()
        assert error["code"] == hfwire.ERR["wrong_server"] and "held by server s1" in error["text"], error
        return error["text"]
    refused_at_s2("tablet")
    online(s1, "phone", account).close()
    status, body = s2.api("POST", "/v1/accounts/%s/devices/phone/revoke" % account)
    assert status == 200, body
    s1.stop(signal.SIGKILL)
    harness.wait_until(lambda: "the cluster's servers: s1 (away) s2" in s2.log(), 10, "s2 told s1 is away")
    try:
        hfwire.allocate(alloc.alloc_port, alloc.ca, alloc.token(account, "phone"))
        raise AssertionError("the allocator offered another server while the account's own was away")
    except RuntimeError as e:
        assert "code %d" % hfwire.ERR["no_server"] in str(e) and "server s1, which holds the account" in str(e), e
    assert alloc.metric("handoff_allocator_home_away_total") >= 1
    assert "away at the moment" in refused_at_s2("phone")  # the revoked device is not let in here
    status, body = s2.api("POST", "/v1/accounts/%s/messages" % account, {"to": "tablet", "data": "later"},
                          headers=["Idempotency-Key: later"])
    assert (status, body["error"]) == (503, "server_unavailable") and "away" in body["message"], body
    assert body["retry_ms"] > 0, body
    assert harness.metric_value(s2.probe("/metrics")[1], "handoff_messages_received_total") == 0
    # s1 back: its account is its own again, the call taken, the revoked
    # device still refused.
    s1.start()
    harness.wait_until(lambda: s2.log().count("the cluster's servers: s1 s2") >= 2, 10, "s1 back in s2's list")
    status, body = s2.api("POST", "/v1/accounts/%s/messages" % account, {"to": "tablet", "data": "later"},
                          headers=["Idempotency-Key: later"])
    assert (status, body["status"]) == (200, "stored"), body
    assert online(s1, "tablet", account).expect(hfwire.DELIVER)["payload"] == b"later"
    conn = s1.conn()
    conn.send(hfwire.HELLO, [("token", s1.token(account, "phone")), ("version_min", 1), ("version_max", 1)])
    assert conn.expect(hfwire.ERROR)["code"] == hfwire.ERR["revoked"]


def test_a_weight_other_than_the_members_listed_one_is_refused():
    """With stores of their own every allocator ranks the members by the
    weights cluster.servers lists, so that an account's server does not
    move with a server's config: a REGISTER that claims another weight is
    refused, logged and counted, and a server sharing a store is refused
    beside servers that keep their own (one that says neither, of a
    release before store_format, is not)."""
    alloc, (s1, s2) = servers_with_stores_of_their_own(members=True)
    s2.stop()
    s2.settings["register.weight"] = 300
    s2.write_config()
    s2.start()
    harness.wait_until(lambda: "is not its cluster.servers weight 100" in alloc.log(), 10, "the weight refused")
    assert alloc.metric("handoff_registrations_refused_total") >= 1
    harness.wait_until(lambda: "bad_field" in s2.log(), 5, "s2 told why")
    with open(s2.settings["cluster.key_file"]) as f:
        key = f.read().strip()
    conn = alloc.conn(alloc.alloc_port)
    conn.send(hfwire.REGISTER, [("server_id", "s2"), ("key", key), ("address", "127.0.0.1:9"), ("weight", 100),
                                ("store_format", "handoff-redis 1")])
    error = conn.expect(hfwire.ERROR)
    assert error["code"] == hfwire.ERR["unsupported_version"], error
    assert "live server s1 keeps a store of its own" in error["text"], error
    # A server of a release before store_format says neither: taken.
    conn = alloc.conn(alloc.alloc_port)
    conn.send(hfwire.REGISTER, [("server_id", "s2"), ("key", key), ("address", "127.0.0.1:9"), ("weight", 100)])
    assert conn.expect(hfwire.REGISTER_ACK)["code"] == 0


def test_a_backend_mints_device_tokens_with_a_tokens_key():
    """POST .../devices/{device}/tokens answers a device token (a JWT, or
    hf1 when asked) that HELLO takes; it needs a key of scope tokens (or
    admin), and such a key posts no message. handoffctl token prints one."""
    first = Relay()
    secrets = {}
    for name in ("minter", "sender", "ops"):
        secrets[name] = os.path.join(first.dir, name + ".secret")
        with open(secrets[name], "w") as f:
            f.write(os.urandom(16).hex() + "\n")
    relay = Relay(share=first, api_keys=[("minter", secrets["minter"], "tokens"), ("sender", secrets["sender"], "send"),
                                         ("ops", secrets["ops"], "admin")]).start()

    def mint(body, key="minter", device="phone"):
        return relay.api("POST", "/v1/accounts/alice/devices/%s/tokens" % device, body, secret_file=secrets[key])
    before_ms = int(time.time() * 1000)
    status, body = mint({"ttl": "1h"})
    assert status == 200 and body["format"] == "jwt" and body["token"].count(".") == 2, body
    assert before_ms + 3590000 <= body["expires_at_ms"] <= before_ms + 3610000, body
    welcome = relay.conn().hello(body["token"])
    assert (welcome["account"], welcome["device"]) == ("alice", "phone"), welcome
    status, body = mint({"format": "hf1"}, key="ops", device="pc")
    assert status == 200 and body["token"].startswith("hf1."), body
    relay.conn().hello(body["token"])
    for bad, said in (({"ttl": "400d"}, "api.token_max_ttl"), ({"ttl": 60}, "duration"),
                      ({"format": "jws"}, "format"), ({"device": "x"}, "unknown field")):
        status, body = mint(bad)
        assert (status, body["error"]) == (400, "bad_field") and said in body["message"], (bad, body)
    status, body = mint({}, key="sender")
    assert (status, body["error"]) == (403, "forbidden") and "needs tokens or admin" in body["message"], body
    status, body = relay.api("POST", "/v1/accounts/alice/messages", {"to": "phone", "data": "x"},
                             secret_file=secrets["minter"])
    assert (status, body["error"]) == (403, "forbidden") and "has scope tokens" in body["message"], body
    code, out, err = relay.ctl("token", "alice", "tablet", "--ttl", "10m", "--format", "jwt",
                               secret_file=secrets["minter"])
    assert code == 0, (code, out, err)
    assert relay.conn().hello(out.strip())["device"] == "tablet"


def test_a_key_kept_to_some_accounts_acts_on_those_only():
    """api.keys' accounts: a key acts on the accounts it names (a name, or
    a start and *) and is answered 403 on any other, on every route, the
    device lists included, and on the server's own routes (status)."""
    first = Relay()
    secrets = {}
    for name in ("team", "teamadmin"):
        secrets[name] = os.path.join(first.dir, name + ".secret")
        with open(secrets[name], "w") as f:
            f.write(os.urandom(16).hex() + "\n")
    relay = Relay(share=first, api_keys=[("team", secrets["team"], "send", ["alice", "team-*"]),
                                         ("teamadmin", secrets["teamadmin"], "admin", ["team-*"])]).start()
    for account, wanted in (("alice", 200), ("team-red", 200), ("bob", 403), ("alicex", 403), ("tea", 403)):
        status, body = relay.api("POST", "/v1/accounts/%s/messages" % account, {"to": "phone", "data": "x"},
                                 secret_file=secrets["team"])
        assert status == wanted, (account, status, body)
        if status == 403:
            assert 'may not act on account "%s"' % account in body["message"], body
    status, body = relay.api("GET", "/v1/accounts/team-red/devices", secret_file=secrets["teamadmin"])
    assert body["error"] == "unknown_account", body  # past the key's check: none of its devices has connected
    status, body = relay.api("GET", "/v1/accounts/alice/devices", secret_file=secrets["teamadmin"])
    assert (status, body["error"]) == (403, "forbidden"), body
    status, body = relay.api("GET", "/v1/status", secret_file=secrets["teamadmin"])
    assert (status, body["error"]) == (403, "forbidden") and "their routes only" in body["message"], body


def test_a_server_that_knows_no_cluster_yet_answers_503():
    """A server no allocator has answered cannot know where an account is
    held: 503 server_unavailable, never a message kept on the wrong
    server."""
    lone = Relay("server", server_id="s9", api_keys=True,
                 **{"register.allocators": ["127.0.0.1:%d" % harness.free_port()], "store.module": "lmdb"}).start()
    status, body = lone.api("POST", "/v1/accounts/alice/messages", {"to": "phone", "data": "x"})
    assert (status, body["error"]) == (503, "server_unavailable"), body
    assert "no allocator has listed the cluster's servers" in body["message"] and body["retry_ms"] > 0, body
    status, body = lone.api("GET", "/v1/status")  # the server's own routes answer
    assert status == 200, body


def test_device_list_shows_presence_and_queues():
    relay = Relay(api_keys=True).start()
    phone = online(relay, "phone")
    online(relay, "pc").close()
    relay.api("POST", "/v1/accounts/alice/messages", {"to": "pc", "data": "12345"})
    harness.wait_until(lambda: "alice/pc offline" in relay.log(), 5, "pc offline")
    status, body = relay.api("GET", "/v1/accounts/alice/devices")
    assert status == 200 and body["account"] == "alice"
    by_name = {d["device"]: d for d in body["devices"]}
    assert [d["device"] for d in body["devices"]] == ["pc", "phone"]
    assert by_name["phone"]["online"] and by_name["phone"]["server"] == "test"
    assert by_name["phone"]["connected_since_ms"] > 0
    pc = by_name["pc"]
    assert (pc["online"], pc["server"], pc["queue_messages"], pc["queue_bytes"]) == (False, None, 1, 5), pc
    assert pc["last_seen_ms"] > 0 and not pc["revoked"]
    phone.close()


def test_revoke_restore_disconnect_on_one_server():
    relay = Relay(api_keys=True).start()
    old_token = relay.token("alice", "phone")
    phone = relay.conn()
    phone.hello(old_token)
    online(relay, "pc").close()
    relay.api("POST", "/v1/accounts/alice/messages", {"to": "pc", "data": "queued"})
    # disconnect: cut, and it may come back.
    status, body = relay.api("POST", "/v1/accounts/alice/devices/phone/disconnect")
    assert (status, body["was_online"]) == (200, True), body
    assert phone.expect(hfwire.ERROR)["code"] == hfwire.ERR["disconnected"]
    phone = relay.conn()
    phone.hello(old_token)
    # revoke: cut, refused on reconnect whatever its expiry, queue purged.
    status, body = relay.api("POST", "/v1/accounts/alice/devices/phone/revoke")
    assert (status, body["revoked"]) == (200, True), body
    assert phone.expect(hfwire.ERROR)["code"] == hfwire.ERR["revoked"]
    status, body = relay.api("POST", "/v1/accounts/alice/devices/pc/revoke")
    assert body["purged"] == 1, body
    again = relay.conn()
    again.send(hfwire.HELLO, [("token", old_token), ("version_min", 1), ("version_max", 1)])
    assert again.expect(hfwire.ERROR)["code"] == hfwire.ERR["revoked"]
    # While revoked even a new token is refused; after restore, old ones
    # stay refused and new ones work.
    fresh = relay.conn()
    fresh.send(hfwire.HELLO, [("token", relay.token("alice", "phone")), ("version_min", 1), ("version_max", 1)])
    assert fresh.expect(hfwire.ERROR)["code"] == hfwire.ERR["revoked"]
    status, body = relay.api("POST", "/v1/accounts/alice/devices/phone/restore")
    assert (status, body["revoked"]) == (200, False), body
    refused = relay.conn()
    refused.send(hfwire.HELLO, [("token", old_token), ("version_min", 1), ("version_max", 1)])
    assert refused.expect(hfwire.ERROR)["code"] == hfwire.ERR["revoked"]
    online(relay, "phone").close()
    # A token without issued_at_ms (minted before the claim) counts as issued
    # at 0: refused for a device ever revoked, fine for any other.
    with open(relay.secret_file) as f:
        secret = f.read().strip()
    legacy = relay.conn()
    legacy.send(hfwire.HELLO, [("token", hfwire.mint_token(secret, "alice", "phone", int(time.time()) + 60)),
                               ("version_min", 1)])
    assert legacy.expect(hfwire.ERROR)["code"] == hfwire.ERR["revoked"]
    other = relay.conn()
    other.hello(hfwire.mint_token(secret, "alice", "tv", int(time.time()) + 60))
    status, listing = relay.api("GET", "/v1/accounts/alice/devices")
    assert {d["device"]: d["revoked"] for d in listing["devices"]} == {"pc": True, "phone": False, "tv": False}


def test_frames_behind_a_hello_wait_for_its_revocation_check():
    """A client may send on before WELCOME: its SEND is held while the
    store is asked about the device, then handled in order."""
    relay = Relay(api_keys=True).start()
    phone = online(relay, "phone")
    pc = relay.conn()
    pc.send_raw(hfwire.frame(hfwire.HELLO, [("token", relay.token("alice", "pc")), ("version_min", 1)]) +
                hfwire.frame(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"early")]))
    pc.expect(hfwire.WELCOME)
    assert phone.expect(hfwire.DELIVER)["payload"] == b"early"


def revoke_across(store):
    a = Relay("standalone", server_id="s1", api_keys=True, **store).start()
    b = Relay("standalone", share=a, server_id="s2", **store).start()
    token = b.token("alice", "phone")
    phone = b.conn()
    phone.hello(token)
    # The API on s1 sees the device on s2, and reaches it.
    status, body = a.api("POST", "/v1/accounts/alice/messages", {"to": "phone", "data": "across"})
    got = phone.expect(hfwire.DELIVER)
    assert got["payload"] == b"across" and got["from"] == "@backend"
    phone.send(hfwire.DELIVER_ACK, [("upto", got["seq"])])
    status, listing = a.api("GET", "/v1/accounts/alice/devices")
    assert listing["devices"][0]["server"] == "s2", listing
    status, body = a.api("POST", "/v1/accounts/alice/devices/phone/revoke")
    assert (status, body["server"]) == (200, "s2"), body
    assert phone.expect(hfwire.ERROR, timeout=10)["code"] == hfwire.ERR["revoked"]
    for relay in (a, b):
        again = relay.conn()
        again.send(hfwire.HELLO, [("token", token), ("version_min", 1)])
        assert again.expect(hfwire.ERROR)["code"] == hfwire.ERR["revoked"]
    assert a.api("POST", "/v1/accounts/alice/devices/phone/restore")[0] == 200
    online(b, "phone").close()
    # disconnect across servers too.
    phone = online(b, "phone")
    status, body = a.api("POST", "/v1/accounts/alice/devices/phone/disconnect")
    assert (status, body["server"]) == (200, "s2"), body
    assert phone.expect(hfwire.ERROR)["code"] == hfwire.ERR["disconnected"]


def test_revoke_on_one_server_cuts_the_device_on_another():
    redis = harness.RedisServer().start()
    revoke_across({"store.module": "redis", "store.address": redis.address(), "store.prefix": "api%d:" % os.getpid()})


def test_revoke_across_servers_on_a_redis_cluster():
    # A revocation is kept on a replica too (store.replicas = 1): the
    # replicas are in sync first.
    harness.shared_cluster().wait_ok()
    revoke_across({"store.module": "redis", "store.cluster": harness.shared_cluster().seeds(),
                   "store.prefix": "apic%d:" % os.getpid()})


def test_a_revocation_is_answered_once_the_device_is_cut_on_its_server():
    """The kick that cuts a device on another server is a notice (Redis
    pub/sub), lost while that server's subscription is down. The revoke
    is answered only once the store no longer has the device online
    there, the kick sent again until then. Found by test/nemesis (a Redis
    primary cut off from the others: the revoked device kept getting
    messages); before the fix the API answered 200 at once and the device
    was never cut."""
    redis = harness.RedisServer().start()
    store = {"store.module": "redis", "store.address": redis.address(), "store.prefix": "cut%d:" % os.getpid()}
    a = Relay("standalone", server_id="s1", api_keys=True, **store).start()
    b = Relay("standalone", share=a, server_id="s2", **store).start()
    phone = b.conn()
    phone.hello(b.token("alice", "phone"))
    harness.wait_until(lambda: a.api("GET", "/v1/accounts/alice/devices")[1]["devices"][0]["server"] == "s2", 5,
                       "the phone online on s2")
    redis.cli("CLIENT", "KILL", "TYPE", "pubsub")  # s2 hears no notice until it subscribes again
    status, body = a.api("POST", "/v1/accounts/alice/devices/phone/revoke")
    assert (status, body["server"]) == (200, "s2"), body
    assert phone.expect(hfwire.ERROR, timeout=1.0)["code"] == hfwire.ERR["revoked"]
    status, listing = a.api("GET", "/v1/accounts/alice/devices")
    assert listing["devices"][0]["online"] is False, listing


def test_a_device_admitted_while_the_store_is_away_is_checked_when_it_returns():
    """The store cannot say whether a device is revoked: it is admitted,
    takes and gets nothing, and is cut once the store says revoked."""
    redis = harness.RedisServer().start()
    relay = Relay(api_keys=True, **{"store.module": "redis", "store.address": redis.address(),
                                    "delivery.store_retry": "200ms"}).start()
    token = relay.token("alice", "phone")
    online(relay, "phone").close()
    assert relay.api("POST", "/v1/accounts/alice/devices/phone/revoke")[0] == 200
    redis.stop()
    phone = relay.conn()
    phone.hello(token)  # admitted: the store cannot say
    phone.send(hfwire.SEND, [("to", "pc"), ("id", 1), ("payload", b"x")])
    ack = phone.expect(hfwire.SEND_ACK)
    assert (ack["status"], ack["code"]) == (hfwire.REJECTED, hfwire.ERR["store_unavailable"]), ack
    redis.start()  # the same port and files: the revocation is there
    assert phone.expect(hfwire.ERROR, timeout=10)["code"] == hfwire.ERR["revoked"]


def test_bad_requests_get_json_errors_and_are_counted():
    send_secret = os.path.join(harness.tempfile.mkdtemp(), "send.secret")
    with open(send_secret, "w") as f:
        f.write(os.urandom(20).hex() + "\n")
    relay = Relay(api_keys=True, **{"api.max_body": "4k", "api.rate": 1, "api.burst": 20}).start()
    relay.api_keys.append(("sender", send_secret, "send"))
    relay.write_config()
    relay.stop()
    relay.start()
    online(relay, "phone").close()
    messages = "/v1/accounts/alice/messages"
    cases = [
        (dict(raw="{not json"), 400, "bad_json"),
        (dict(raw="[1, 2]"), 400, "bad_json"),
        (dict(raw='{"to": "phone", "to": "pc", "data": "x"}'), 400, "bad_json"),
        (dict(body={"to": "phone", "data": "x", "colour": "red"}), 400, "unknown_field"),
        (dict(body={"to": 7, "data": "x"}), 400, "bad_field"),
        (dict(body={"to": "phone", "data": "x", "ttl": "1h"}), 400, "bad_field"),
        (dict(body={"to": "phone", "data": "x", "id": "abc"}), 400, "bad_field"),
        (dict(body={"to": "phone", "data_base64": "!!"}), 400, "bad_field"),
        (dict(body={"to": "phone", "data": "x", "data_base64": "eA"}), 400, "bad_field"),
        (dict(body={"to": "phone"}), 400, "missing_field"),
        (dict(body={"to": "a/b", "data": "x"}), 400, "bad_target"),
        (dict(body={"to": "phone", "data": "x", "ttl": 0}), 400, "bad_field"),
        (dict(body={"to": "phone", "data": "x", "ttl": 10 ** 9}), 400, "ttl_too_long"),
        (dict(raw='{"to": "phone", "data": "%s"}' % ("x" * 5000)), 413, "body_too_large"),
        (dict(body={"to": "phone", "data": "x"}, secret_file=""), 401, "unauthorized"),
        (dict(body={"to": "phone", "data": "x"}, secret_file=relay.secret_file), 401, "unauthorized"),
    ]
    for kwargs, status, error in cases:
        got = relay.api("POST", messages, **kwargs)
        assert got[0] == status and got[1]["error"] == error and got[1]["message"], (kwargs, got)
    assert relay.api("POST", messages, {"to": "phone", "data": "ok"}, secret_file=send_secret)[0] == 200
    assert relay.api("GET", "/v1/accounts/alice/devices", secret_file=send_secret)[1]["error"] == "forbidden"
    assert relay.api("GET", "/v1/accounts/nobody/devices")[:1] + (relay.api(
        "GET", "/v1/accounts/nobody/devices")[1]["error"],) == (404, "unknown_account")
    assert relay.api("POST", "/v1/accounts/alice/devices/ghost/revoke")[1]["error"] == "unknown_device"
    assert relay.api("POST", "/v1/accounts/alice/devices/phone/revoke", {"purge": False})[1]["error"] == \
        "unknown_field"
    assert relay.api("GET", "/v1/accounts/bad%20name/devices")[1]["error"] == "bad_field"
    assert relay.api("GET", "/v1/nothing")[:1] == (404,)
    assert relay.api("GET", messages)[:1] == (405,)
    # The key's rate: its burst of 20 is spent by now.
    limited = [relay.api("GET", "/v1/status") for _ in range(20)]
    assert any(s == 429 and b["error"] == "rate_limited" and b["retry_ms"] > 0 for s, b in limited), limited
    text = harness.urllib.request.urlopen("http://127.0.0.1:%d/metrics" % relay.metrics_port).read().decode()
    assert harness.metric_value(text, 'handoff_api_requests_total{route="messages",status="400"}') >= 12
    assert harness.metric_value(text, 'handoff_api_requests_total{route="unknown",status="401"}') == 2
    assert harness.metric_value(text, 'handoff_api_requests_total{route="status",status="429"}') >= 1
    assert relay.proc.poll() is None


def test_the_http_listeners_cap_connections_and_request_heads():
    """api.max_connections bounds what the API holds: idle connections up
    to the cap are kept, one more fails its TLS handshake and is counted,
    and a freed place is taken again. A request head past
    limits.http_max_headers is refused at once by the API and by the
    metrics listener. On 9064fb0 the API had no cap, and the metrics
    listener read request heads of any size."""
    import socket
    import ssl
    relay = Relay(api_keys=True, **{"api.max_connections": 2, "limits.http_max_headers": "4k"}).start()
    tls = ssl.create_default_context(cafile=relay.ca)

    def api_conn():
        return tls.wrap_socket(socket.create_connection(("127.0.0.1", relay.api_port), timeout=5),
                               server_hostname="127.0.0.1")

    def answered():
        """Whether a GET /v1/status on a new connection gets an HTTP answer
        (False: its handshake failed)."""
        try:
            sock = api_conn()
            sock.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = sock.recv(100)
            sock.close()
            return reply.startswith(b"HTTP/1.1")
        except ssl.SSLError:
            return False

    held = [api_conn(), api_conn()]
    time.sleep(0.2)  # both accepted and counted
    assert not answered()
    held.pop().close()
    harness.wait_until(answered, 5, "a freed place taken again")
    held.pop().close()
    page = relay.probe("/metrics")[1]
    assert harness.metric_value(page, 'handoff_limit_hits_total{limit="api.max_connections"}') >= 1, page
    # A 64 KiB header: refused, not read, by either listener.
    for sock in (socket.create_connection(("127.0.0.1", relay.metrics_port), timeout=5), api_conn()):
        try:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
            reply = sock.recv(100)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            reply = b""
        assert not reply.startswith(b"HTTP/1.1 200"), reply
        sock.close()
    assert relay.probe("/livez")[0] == 200
    assert relay.api("GET", "/v1/status")[0] == 200


def test_the_api_reads_a_body_only_after_its_head_presents_a_key():
    """A request whose head presents no api.keys secret may carry at most
    api.max_unauthenticated_body: a larger one is answered 413 as soon as
    its head is in, before any of its body is sent, and its connection is
    closed. A head with a key reads up to the API's own limit, on any
    request of a keep-alive connection, and a head that arrives in pieces
    counts as one. Before, the API read up to twice api.max_body of anyone's
    body before it looked at the key."""
    import socket
    import ssl
    relay = Relay(api_keys=True, **{"api.max_unauthenticated_body": "4k"}).start()
    with open(relay.api_secret) as f:
        secret = f.read().strip()
    tls = ssl.create_default_context(cafile=relay.ca)
    path = "/v1/accounts/alice/messages"

    def connect():
        return tls.wrap_socket(socket.create_connection(("127.0.0.1", relay.api_port), timeout=5),
                               server_hostname="127.0.0.1")

    def head(length, key=None):
        return (("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" %
                 (path, length)) + ("Authorization: Bearer %s\r\n" % key if key else "") + "\r\n").encode()

    def answer(sock):
        """The status and body of one answer on sock."""
        data = b""
        while b"\r\n\r\n" not in data:
            got = sock.recv(65536)
            assert got, "closed before an answer: %r" % data
            data += got
        head_part, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head_part).group(1))
        while len(body) < length:
            body += sock.recv(65536)
        return int(head_part.split()[1]), body

    def message(size):
        return json.dumps({"to": "phone", "data": "x" * size}).encode()

    # No key, a 1 MiB body announced: 413 before any of it is sent.
    sock = connect()
    sock.sendall(head(1 << 20))
    status, _ = answer(sock)
    assert status == 413, status
    assert sock.recv(10) == b"", "the connection stayed open"
    # No key, a small body: the API's own 401.
    sock = connect()
    body = message(10)
    sock.sendall(head(len(body)) + body)
    status, text = answer(sock)
    assert status == 401 and b"unauthorized" in text, (status, text)
    # A key, a 100 KiB body, its head in three pieces; then, on the same
    # connection, another with a key, and one without.
    sock = connect()
    body = message(100 << 10)
    whole = head(len(body), secret)
    for part in (whole[:20], whole[20:70], whole[70:] + body):
        sock.sendall(part)
        time.sleep(0.05)
    status, text = answer(sock)
    assert status == 200 and json.loads(text)["status"] == "stored", (status, text)
    sock.sendall(head(len(body), secret) + body)
    assert answer(sock)[0] == 200
    sock.sendall(head(len(body)))
    assert answer(sock)[0] == 413
    assert relay.api("GET", "/v1/status")[0] == 200


def test_the_metrics_listener_caps_its_connections():
    """metrics.max_connections bounds what the metrics listener holds:
    idle connections up to the cap are kept, one more is closed before it
    is read and counted, and a freed place is taken again. Before, it held
    any number (a scraper's leak, or anyone who reaches the port, could
    take every file the daemon may open)."""
    import socket
    relay = Relay(**{"metrics.max_connections": 2}).start()

    def answered():
        """Whether a GET /livez on a new connection gets an HTTP answer."""
        with socket.create_connection(("127.0.0.1", relay.metrics_port), timeout=5) as sock:
            try:
                sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
                return sock.recv(100).startswith(b"HTTP/1.1 200")
            except (ConnectionResetError, BrokenPipeError):
                return False

    held = [socket.create_connection(("127.0.0.1", relay.metrics_port), timeout=5) for _ in range(2)]
    time.sleep(0.2)  # both accepted and counted
    assert not answered()
    refused = socket.create_connection(("127.0.0.1", relay.metrics_port), timeout=5)
    assert refused.recv(10) == b"", "a connection past the cap was kept"  # closed without a word
    refused.close()
    held.pop().close()
    harness.wait_until(answered, 5, "a freed place taken again")
    held.pop().close()
    harness.wait_until(lambda: answered() and answered(), 5, "both places free again")
    page = relay.probe("/metrics")[1]
    assert harness.metric_value(page, 'handoff_limit_hits_total{limit="metrics.max_connections"}') >= 2, page


def test_status_and_drain():
    relay = Relay(api_keys=True).start()
    phone = online(relay, "phone")
    status, body = relay.api("GET", "/v1/status")
    assert status == 200 and body["online_devices"] == 1 and body["store"]["healthy"], body
    assert body["role"] == "standalone" and body["server_id"] == "test"
    status, body = relay.api("POST", "/v1/drain")
    assert (status, body["draining"]) == (202, True), body
    assert phone.expect(hfwire.GOAWAY)["code"] == hfwire.ERR["shutting_down"]
    phone.close()
    relay.proc.wait(15)
    assert relay.proc.returncode == 0


def test_handoffctl():
    relay = Relay(api_keys=True, **{"drain.timeout": "2s"}).start()
    phone = online(relay, "phone")
    call = harness.in_background(relay.ctl, "send", "alice", "phone", "from the shell", "--id", "7")
    got = phone.expect(hfwire.DELIVER)
    assert (got["payload"], got["from"], got["id"]) == (b"from the shell", "@backend", 7), got
    phone.send(hfwire.DELIVER_ACK, [("upto", got["seq"])])
    code, out, err = call()
    assert (code, out) == (0, "delivered (delivered to 1, stored for 0), id 7\n"), (code, out, err)
    # Not UTF-8, from stdin: sent in base64, arrives as bytes.
    raw = subprocess.run([harness.HANDOFFCTL, "--url", "https://127.0.0.1:%d" % relay.api_port, "--ca", relay.ca,
                          "--key-file", relay.api_secret, "send", "alice", "tablet", "-"],
                         input=b"\xff\xfe\x00bytes", capture_output=True)
    assert raw.returncode == 0 and raw.stdout.startswith(b"stored"), raw
    # Twice with one Idempotency-Key: one id, stored once.
    said = [relay.ctl("send", "alice", "tablet", "keyed", "--idempotency-key", "job 17") for _ in range(2)]
    assert said[0][0] == 0 and said[0] == said[1] and said[0][1].startswith("stored"), said
    code, _, err = relay.ctl("status", "--idempotency-key", "k")
    assert code == 2 and "--idempotency-key is for send" in err, err
    tablet = online(relay, "tablet")
    assert tablet.expect(hfwire.DELIVER)["payload"] == b"\xff\xfe\x00bytes"
    assert tablet.expect(hfwire.DELIVER)["payload"] == b"keyed"
    tablet.send(hfwire.PING, [("id", 9)])
    assert tablet.expect(hfwire.PONG)["id"] == 9  # and no second "keyed" before it
    tablet.close()
    code, out, _ = relay.ctl("devices", "alice")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["DEVICE", "ONLINE", "SERVER"], out
    assert out.splitlines()[1].split()[:3] == ["phone", "yes", "test"], out
    code, out, _ = relay.ctl("--json", "devices", "alice")
    assert code == 0 and json.loads(out)["devices"][0]["device"] == "phone"
    code, out, _ = relay.ctl("disconnect", "alice", "phone")
    assert (code, out) == (0, "disconnected phone on test; it may connect again\n"), out
    assert phone.expect(hfwire.ERROR)["code"] == hfwire.ERR["disconnected"]
    phone = online(relay, "phone")
    code, out, _ = relay.ctl("revoke", "alice", "phone")
    assert code == 0 and out.startswith("revoked phone on test"), out
    # Every change is an audit line: the key, what, whom, the answer.
    assert 'audit: key "backend" revoke alice/phone: 200 {"device":"phone","revoked":true' in relay.log()
    assert phone.expect(hfwire.ERROR)["code"] == hfwire.ERR["revoked"]
    code, out, _ = relay.ctl("restore", "alice", "phone")
    assert code == 0 and out.startswith("restored phone"), out
    online(relay, "phone").close()
    code, out, _ = relay.ctl("status")
    assert code == 0 and "store         memory, healthy" in out, out
    # Refusals, bad arguments and an unreachable server, each with its status.
    code, _, err = relay.ctl("revoke", "alice", "ghost")
    assert code == 1 and "404 unknown_device" in err, err
    assert relay.ctl("revoke", "alice")[0] == 2
    assert relay.ctl("frobnicate")[0] == 2
    # A bad --ttl and a URL that is not https are usage errors (812d479
    # sent the ttl as 0 and tried the URL).
    code, _, err = relay.ctl("send", "alice", "phone", "x", "--ttl", "soon")
    assert code == 2 and "--ttl takes whole seconds" in err, err
    plain = subprocess.run([harness.HANDOFFCTL, "--url", "http://127.0.0.1:%d" % relay.api_port, "--key-file",
                            relay.api_secret, "status"], capture_output=True, text=True)
    assert plain.returncode == 2 and "must be https://" in plain.stderr, plain.stderr
    code, _, err = relay.ctl("status", secret_file=relay.secret_file)
    assert code == 1 and "401 unauthorized" in err, err
    dead = subprocess.run([harness.HANDOFFCTL, "--url", "https://127.0.0.1:%d" % harness.free_port(), "--ca",
                           relay.ca, "--key-file", relay.api_secret, "status"], capture_output=True, text=True)
    assert dead.returncode == 3 and "cannot connect" in dead.stderr, dead.stderr
    code, _, err = relay.ctl("--ca", "/etc/ssl/certs/ca-certificates.crt", "status")
    assert code == 3 and "certificate verify failed" in err, err
    assert relay.ctl("status", "--wait")[0] == 2  # --wait is drain's
    phone = online(relay, "phone")
    code, out, _ = relay.ctl("drain", "--wait")
    # The drain said, the connections left counted (the phone, which
    # ignores its GOAWAY, until drain.timeout), and the answer only once
    # the daemon is gone.
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("draining") and lines[-1] == "drained: the daemon has exited", out
    assert any(re.match(r"draining: \d+ connections left", line) for line in lines), out
    # handoffctl knows the daemon gone by its API's silence; the process
    # itself is at most its exit away (a sanitizer build's leak check at
    # exit takes a moment: it failed once on a plain poll()).
    try:
        relay.proc.wait(10)
    except subprocess.TimeoutExpired:
        raise AssertionError("handoffctl drain --wait returned, and the daemon still runs 10 s on")
    phone.close()


def refuse_one(relay, phone, payload):
    """pc sends payload to the phone, which refuses it (DELIVER_ACK with a code)."""
    pc = online(relay, "pc")
    pc.send(hfwire.SEND, [("to", "phone"), ("id", int(time.time() * 1000)), ("payload", payload)])
    got = phone.expect(hfwire.DELIVER)
    assert got["payload"] == payload, got
    phone.send(hfwire.DELIVER_ACK, [("upto", got["seq"]), ("code", hfwire.ERR["bad_field"]), ("text", "no thanks")])
    pc.expect(hfwire.SEND_ACK)
    pc.close()
    return got


def test_dead_letters_are_listed_retried_and_purged_with_handoffctl():
    """A message the phone refused sits in its dead-letter list across
    kill -9, is listed by device and by account, retried (sent again from
    its sender, with a new id) and purged; a revocation purges it too."""
    relay = Relay(api_keys=True, **{"store.module": "lmdb"}).start()
    phone = online(relay, "phone")
    first = refuse_one(relay, phone, b"https://example.org/poison")
    assert relay.metric_becomes("handoff_messages_dead_lettered_total", 1)
    phone.close()
    relay.stop(signal.SIGKILL)
    relay.start()
    code, out, err = relay.ctl("dead-letters", "alice")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["DEVICE", "SEQ", "FROM", "ID"], (out, err)
    assert len(lines) == 2 and lines[1].split()[:3] == ["phone", "1", "pc"], out
    assert "refused by the device: bad_field (3): no thanks" in lines[1], out
    code, out, _ = relay.ctl("--json", "dead-letters", "alice", "phone")
    listed = json.loads(out)
    entry = listed["dead_letters"][0]
    assert (listed["device"], entry["from"], entry["id"], entry["error"], entry["size"]) == \
        ("phone", "pc", str(first["id"]), "bad_field", len(b"https://example.org/poison")), listed
    # Retried: delivered again from pc, with a new id; gone from the list.
    phone = online(relay, "phone")
    call = harness.in_background(relay.ctl, "dead-letters", "alice", "phone", "--retry")
    again = phone.expect(hfwire.DELIVER)
    assert (again["payload"], again["from"]) == (b"https://example.org/poison", "pc") and again["id"] != first["id"]
    phone.send(hfwire.DELIVER_ACK, [("upto", again["seq"])])
    code, out, err = call()
    assert (code, out) == (0, "alice/phone: 1 dead letters sent again\n"), (out, err)
    assert relay.api("GET", "/v1/accounts/alice/dead-letters")[1]["dead_letters"] == []
    # Purged, by account.
    refuse_one(relay, phone, b"again")
    assert harness.wait_until(lambda: len(relay.api("GET", "/v1/accounts/alice/dead-letters")[1]["dead_letters"]) == 1,
                              5, "the second dead letter")
    code, out, _ = relay.ctl("dead-letters", "alice", "--purge")
    assert (code, out) == (0, "alice: 1 dead letters purged\n"), out
    assert relay.api("GET", "/v1/accounts/alice/devices/phone/dead-letters")[1]["dead_letters"] == []
    # A revoked phone's dead letters go with its queue.
    refuse_one(relay, phone, b"stolen")
    assert harness.wait_until(lambda: len(relay.api("GET", "/v1/accounts/alice/dead-letters")[1]["dead_letters"]) == 1,
                              5, "the third dead letter")
    code, out, _ = relay.ctl("revoke", "alice", "phone")
    assert code == 0, out
    assert relay.api("GET", "/v1/accounts/alice/dead-letters")[1]["dead_letters"] == []
    # Bad uses.
    code, _, err = relay.ctl("dead-letters", "alice", "ghost")
    assert code == 1 and "404 unknown_device" in err, err
    assert relay.ctl("dead-letters", "alice", "--retry", "--purge")[0] == 2
    assert relay.ctl("devices", "alice", "--purge")[0] == 2
    status, body = relay.api("POST", "/v1/accounts/alice/dead-letters/purge", {"all": True})
    assert (status, body["error"]) == (400, "unknown_field"), body


SRCDIR = os.environ.get("HF_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


# The Web Push resources, served beside the route table (api_push.cc).
PUSH_ROUTES = {("post", "/push/{endpoint}"), ("get", "/push/{endpoint}"), ("delete", "/push/message/{message}")}


def served_routes():
    """(method, path) of every route in the daemon's route table, with
    its name segments as OpenAPI's {account}, {device} and {app}, and the
    push resources."""
    with open(os.path.join(SRCDIR, "src", "core", "api", "api_http.cc")) as f:
        source = f.read()
    routes = set()
    for segments, method in re.findall(r'\{"[\w-]+",\s*\{([^}]*)\},\s*EVHTTP_REQ_(\w+)', source):
        parts = re.findall(r'"([^"]*)"', segments)
        names = iter(["{account}", "{device}"])
        # The third name is a subscription's app, or a wake route's provider.
        routes.add((method.lower(), "/" + "/".join(
            ("{provider}" if parts[i - 1] == "wake" else "{app}") if p == "*" and i > 4 else next(names) if p == "*"
            else p for i, p in enumerate(parts))))
    return routes | PUSH_ROUTES


def test_openapi_matches_the_routes_served():
    import yaml
    with open(os.path.join(SRCDIR, "docs", "openapi.yaml")) as f:
        spec = yaml.safe_load(f)
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    served = served_routes()
    assert len(served) == 26, served
    assert documented == served, (documented ^ served)
    relay = Relay(api_keys=True)
    relay.settings["push.key_file"] = os.path.join(relay.dir, "push.secret")
    relay.settings["wake.vapid_key_file"] = os.path.join(relay.dir, "wake-vapid.pem")
    relay.settings["wake.allow_endpoints"] = ["http://127.0.0.1:9"]
    relay.write_config()
    relay.start()
    online(relay, "phone").close()
    code, _, err = relay.cli(relay.token("alice", "phone"), "--keys", os.path.join(relay.dir, "phone.keys"),
                             "subscribe", "--app", "mastodon")
    assert code == 0, err
    route = {"webpush": {"endpoint": "http://127.0.0.1:9/x", "keys": {
        "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        "auth": "BTBZMqHH6r4Tts7J_aSIgg"}}}
    schemas = spec["components"]["schemas"]
    # Each documented operation is served (never not_found or
    # method_not_allowed), and a 200's body has the fields it lists.
    # The push resources take no API key and an encrypted body:
    # 27_webpush drives them with a Web Push library.
    for method, path in sorted(documented - PUSH_ROUTES, key=lambda op: op[1] == "/v1/drain"):
        op = spec["paths"][path][method]
        if op["operationId"] == "tryWake":  # a route to try (revoke, called in any order, drops them)
            assert relay.api("PUT", "/v1/accounts/alice/devices/phone/wake", route)[0] == 200
        body = {"postMessage": {"to": "phone", "data": "x"}, "setWakeRoute": route,
                "purgeQueues": {"never_connected": True}}.get(op["operationId"])
        status, answer = relay.api(method.upper(), path.format(account="alice", device="phone", app="mastodon",
                                                               provider="fcm"), body)
        assert str(status) in op["responses"], (path, status, answer)
        assert status < 400, (path, status, answer)
        schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        assert set(schema.get("required", [])) <= set(answer), (path, answer)


if __name__ == "__main__":
    harness.run(dict(globals()))
