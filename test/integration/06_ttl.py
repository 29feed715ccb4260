"""06: a message whose TTL has passed is never delivered."""

import time

import harness
import hfwire
from harness import Relay


def test_expired_message_is_not_delivered():
    relay = Relay().start()
    pc, phone = relay.token("alice", "pc"), relay.token("alice", "phone")
    assert relay.cli(pc, "send", "--to", "phone", "--ttl", "1", "short-lived")[1] == "stored\n"
    assert relay.cli(pc, "send", "--to", "phone", "--ttl", "600", "long-lived")[1] == "stored\n"
    time.sleep(2.2)
    code, out, err = relay.cli(phone, "listen", "--timeout", "1.5")
    assert code == 0, err
    assert out == "long-lived\n", out


def test_expiry_sweep_drops_and_counts():
    relay = Relay(**{"delivery.expire_interval": "1s"}).start()
    conn = relay.conn()
    conn.hello(relay.token("alice", "pc"))
    conn.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("ttl", 1), ("payload", b"gone")])
    assert conn.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    conn.send(hfwire.SEND, [("to", "phone"), ("id", 2), ("ttl", 0), ("payload", b"x")])
    ack = conn.expect(hfwire.SEND_ACK)
    assert ack["status"] == hfwire.REJECTED and ack["code"] == hfwire.ERR["bad_field"], ack
    time.sleep(2.5)
    receiver = relay.conn()
    receiver.hello(relay.token("alice", "phone"))
    receiver.send(hfwire.PING, [("id", 3)])
    assert receiver.expect(hfwire.PONG)["id"] == 3, "an expired message was delivered"


if __name__ == "__main__":
    harness.run(dict(globals()))
