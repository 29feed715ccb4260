"""20: presence for devices (docs/protocol.md, "Presence"): PRESENCE_REQ
answered with the account's devices, changes told to a device that
follows, on one server and across two sharing Redis; a client that never
asks sees nothing new."""

import os

import harness
import hfwire
from harness import Relay


def device(relay, name, account="alice"):
    conn = relay.conn()
    welcome = conn.hello(relay.token(account, name))
    assert welcome["features"] & 1, welcome  # presence offered
    return conn


def ask(conn, req_id, follow):
    """Sends PRESENCE_REQ; returns {device: online} from the answer."""
    conn.send(hfwire.PRESENCE_REQ, [("id", req_id), ("follow", 1 if follow else 0)])
    states = {}
    while True:
        got = conn.expect(hfwire.PRESENCE)
        assert got["id"] == req_id, got
        if "device" not in got:
            assert got["count"] == len(states), (got, states)
            return states
        states[got["device"]] = got["online"]


def quiet(conn):
    """Nothing else is queued for conn: a ping's answer comes next."""
    conn.send(hfwire.PING, [("id", 77)])
    assert conn.expect(hfwire.PONG)["id"] == 77


def changes_reach_a_follower(first, second):
    phone = device(first, "phone")
    device(first, "tv").close()
    harness.wait_until(lambda: "alice/tv offline" in first.log(), 5, "tv offline")
    assert ask(phone, 1, follow=True) == {"phone": 1, "tv": 0}
    pc = device(second, "pc")
    assert phone.expect(hfwire.PRESENCE) == {"device": "pc", "online": 1}
    pc.close()
    assert phone.expect(hfwire.PRESENCE) == {"device": "pc", "online": 0}
    assert ask(phone, 2, follow=False) == {"pc": 0, "phone": 1, "tv": 0}
    device(second, "pc").close()
    quiet(phone)  # no longer following: nothing came


def test_presence_on_one_server():
    relay = Relay().start()
    changes_reach_a_follower(relay, relay)


def test_presence_across_servers_sharing_redis():
    redis = harness.RedisServer().start()
    store = {"store.module": "redis", "store.address": redis.address(), "store.prefix": "pr%d:" % os.getpid()}
    s1 = Relay(server_id="s1", **store).start()
    s2 = Relay(share=s1, server_id="s2", **store).start()
    changes_reach_a_follower(s1, s2)


def test_a_client_that_never_asks_sees_nothing_new():
    relay = Relay().start()
    phone = device(relay, "phone")
    device(relay, "pc").close()
    quiet(phone)


def test_bad_presence_requests():
    relay = Relay().start()
    phone = device(relay, "phone")
    phone.send(hfwire.PRESENCE_REQ, [("id", 0)])
    assert phone.expect(hfwire.ERROR)["code"] == hfwire.ERR["bad_field"]
    other = device(relay, "pc")
    other.send(hfwire.PRESENCE_REQ, [])
    assert other.expect(hfwire.ERROR)["code"] == hfwire.ERR["missing_field"]


def test_handoff_listen_presence():
    """libhandoff's hf_client_presence through the CLI."""
    relay = Relay().start()
    listener = relay.cli_background(relay.token("alice", "phone"), "listen", "--presence", "--timeout", "4")
    harness.wait_until(lambda: "alice/phone online" in relay.log(), 5, "phone online")
    # Its question and the answer take a round trip after WELCOME.
    harness.wait_until(lambda: "alice/phone follows presence" in relay.log(), 5, "phone following")
    pc = device(relay, "pc")
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"hi")])
    pc.expect(hfwire.SEND_ACK)
    pc.close()
    code, out, err = harness.finish_background(listener)
    assert code == 0, (code, out, err)
    assert out.splitlines() == ["presence phone online", "presence pc online", "hi", "presence pc offline"], out


if __name__ == "__main__":
    harness.run(dict(globals()))
