"""15: the daemon's own TLS layer. TLS 1.3 devices leave OpenSSL after the
handshake and carry frames larger than a record both ways; TLS 1.2 devices
stay with OpenSSL and talk to them; a device's close_notify takes it
offline at once; bytes that are no TLS record after the handshake get an
alert and a close while the daemon serves on."""

import socket
import ssl
import struct
import subprocess
import threading
import time

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


def test_after_an_alert_the_daemon_lingers():
    """After its alert the daemon shuts its side and lingers, reading and
    dropping what the peer still sends, as after an ERROR: closing with
    unread input would send a reset, which can destroy the alert before
    the peer reads it."""
    relay = Relay().start()
    phone = device(relay, "phone")
    raw = socket.socket(fileno=phone.sock.fileno())
    raw.sendall(struct.pack(">BHH", 23, 0x0303, 40) + bytes(40))
    try:
        got = phone.sock.recv(100)
        raise AssertionError("read %r instead of an alert" % got)
    except ssl.SSLError as e:
        assert "BAD_RECORD_MAC" in str(e).upper(), e
    for _ in range(3):  # each would meet a reset had the socket closed
        raw.sendall(bytes(100000))
        time.sleep(0.1)
    raw.close()


def test_a_max_fragment_length_client_stays_with_openssl():
    """A client that negotiated max_fragment_length 512 (RFC 6066) is
    served by OpenSSL, which keeps to it: a 3,000-byte DELIVER arrives in
    small records, where the daemon's own layer would send one record."""
    relay = Relay().start()
    client = subprocess.Popen(["openssl", "s_client", "-quiet", "-tls1_3", "-maxfraglen", "512", "-CAfile", relay.ca,
                               "-connect", "127.0.0.1:%d" % relay.device_port],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = []
    reader = threading.Thread(target=lambda: out.append(client.stdout.read()), daemon=True)
    try:
        hello = [("token", relay.token("alice", "small")), ("version_min", 1), ("version_max", 1)]
        client.stdin.write(hfwire.frame(hfwire.HELLO, hello))
        client.stdin.flush()
        harness.wait_until(lambda: "alice/small online" in relay.log(), 10, "the s_client device online")
        pc = device(relay, "pc")
        payload = bytes(range(256)) * 11 + b"end"
        pc.send(hfwire.SEND, [("to", "small"), ("id", 1), ("payload", payload)])
        assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    finally:
        client.stdin.close()
        reader.start()
        time.sleep(1)
        client.terminate()
        client.wait(5)
        reader.join(5)
    data = out[0] if out else b""
    welcome, rest = hfwire.take_frame(data)
    assert welcome[0] == hfwire.WELCOME, welcome
    deliver, _ = hfwire.take_frame(rest)
    assert deliver[0] == hfwire.DELIVER and deliver[1]["payload"] == payload, deliver
    assert relay.metric("handoff_tls_detached_total") == 1  # the pc only


if __name__ == "__main__":
    harness.run(dict(globals()))
