"""15: the daemon's own TLS layer. TLS 1.3 devices leave OpenSSL after the
handshake and carry frames larger than a record both ways; TLS 1.2 devices
stay with OpenSSL and talk to them; a device's close_notify takes it
offline at once; bytes that are no TLS record after the handshake get an
alert and a close while the daemon serves on."""

import socket
import ssl
import struct

import harness
import hfwire
from harness import Relay


def device(relay, name, max_version=None):
    ctx = ssl.create_default_context(cafile=relay.ca)
    if max_version:
        ctx.maximum_version = max_version
    conn = hfwire.Conn(relay.device_port, relay.ca, ctx=ctx)
    conn.hello(relay.token("alice", name))
    return conn


def exchange(sender, receiver, to, payload, msg_id):
    sender.send(hfwire.SEND, [("to", to), ("id", msg_id), ("payload", payload)])
    msg = receiver.expect(hfwire.DELIVER)
    assert msg["payload"] == payload and msg["id"] == msg_id, (len(msg["payload"]), msg["id"])
    receiver.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    assert sender.expect(hfwire.SEND_ACK)["status"] == hfwire.DELIVERED


def test_tls13_devices_leave_openssl_and_carry_big_frames():
    relay = Relay().start()
    pc, phone = device(relay, "pc"), device(relay, "phone")
    assert pc.sock.version() == "TLSv1.3"
    # 40,000 bytes: three records each way, sealed and opened by the daemon.
    big = bytes(range(256)) * 156 + b"end"
    exchange(pc, phone, "phone", big, 1)
    exchange(phone, pc, "pc", big[::-1], 2)
    for i in range(3, 50):
        exchange(pc, phone, "phone", b"small %d" % i, i)
    assert relay.metric("handoff_tls_handshakes_total") == 2
    assert relay.metric("handoff_tls_detached_total") == 2


def test_tls12_devices_stay_with_openssl_and_talk_to_tls13_ones():
    relay = Relay().start()
    old = device(relay, "old", max_version=ssl.TLSVersion.TLSv1_2)
    new = device(relay, "new")
    assert old.sock.version() == "TLSv1.2"
    exchange(old, new, "new", b"from 1.2", 1)
    exchange(new, old, "old", b"x" * 30000, 2)
    assert relay.metric("handoff_tls_detached_total") == 1


def test_close_notify_takes_the_device_offline_at_once():
    relay = Relay().start()
    phone = device(relay, "phone")
    harness.wait_until(lambda: "alice/phone online" in relay.log(), 5, "phone online")
    phone.sock.unwrap()  # close_notify, the socket left open
    harness.wait_until(lambda: "alice/phone offline" in relay.log(), 5, "phone offline")
    pc = device(relay, "pc")
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"later")])
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED


def test_a_record_that_fails_authentication_is_refused():
    relay = Relay().start()
    phone = device(relay, "phone")
    # A record header and 40 bytes no key sealed, under the TLS layer.
    raw = socket.socket(fileno=phone.sock.fileno())
    raw.sendall(struct.pack(">BHH", 23, 0x0303, 40) + bytes(40))
    raw.detach()
    try:
        got = phone.sock.recv(100)
        raise AssertionError("read %r instead of an alert" % got)
    except ssl.SSLError as e:
        assert "BAD_RECORD_MAC" in str(e).upper(), e
    harness.wait_until(lambda: "alice/phone offline" in relay.log(), 5, "phone offline")
    assert relay.metric("handoff_tls_detached_total") == 1
    exchange(device(relay, "pc"), device(relay, "tablet"), "tablet", b"still serving", 1)


if __name__ == "__main__":
    harness.run(dict(globals()))
