"""05: malformed frames get ERROR and a close; the daemon keeps serving others."""

import harness
import hfwire
from hfwire import frame, field, varint
from harness import Relay

def cases(token):
    hello = frame(hfwire.HELLO, [("token", token)])
    return [
        # (name, bytes after a good HELLO or None for before HELLO, expected error)
        ("reserved flag bits", frame(hfwire.PING, flags=0x80), "bad_frame"),
        ("type zero", frame(0), "bad_frame"),
        ("unknown type", frame(200), "unexpected_type"),
        ("over-long length varint", bytes([hfwire.PING, 0]) + b"\x80" * 11, "bad_frame"),
        ("frame over max_frame", bytes([hfwire.SEND, 0]) + varint(10 * 1024 * 1024), "frame_too_large"),
        ("field past frame", frame(hfwire.DELIVER_ACK, body=field(24, 1) + b"\x0b\x09ab"),
         "bad_frame"),
        ("empty integer", frame(hfwire.DELIVER_ACK, body=varint(24) + varint(0)), "bad_field"),
        ("duplicate field", frame(hfwire.DELIVER_ACK, body=field(24, 0) + field(24, 0)),
         "duplicate_field"),
        ("unknown critical tag", frame(hfwire.PING, flags=hfwire.CRITICAL, body=field(63, b"?")),
         "unknown_critical"),
        ("missing field", frame(hfwire.SEND, [("to", "x"), ("id", 1)]), "missing_field"),
        ("invalid UTF-8", frame(hfwire.SEND, [("to", b"\xc0\xaf"), ("id", 1), ("payload", b"")]),
         "bad_field"),
        ("too many fields", frame(hfwire.PING, body=field(62, b"") * 100), "too_many_fields"),
        ("server-only type", frame(hfwire.WELCOME, [("version", 1), ("heartbeat_ms", 1),
                                                     ("timeout_ms", 1), ("window", 1),
                                                     ("max_frame", 1)]), "unexpected_type"),
        ("second HELLO", hello, "unexpected_type"),
    ]


def test_each_malformed_frame_gets_error_and_close():
    relay = Relay().start()
    token = relay.token("alice", "pc")
    for name, data, code in cases(token):
        conn = relay.conn()
        conn.hello(token)
        conn.send_raw(data)
        err = conn.expect(hfwire.ERROR)
        assert err["code"] == hfwire.ERR[code], (name, err)
        assert err["text"], name
        conn.expect_closed()
    # Frames before HELLO other than HELLO are refused too.
    conn = relay.conn()
    conn.send(hfwire.PING)
    assert conn.expect(hfwire.ERROR)["code"] == hfwire.ERR["unexpected_type"]
    conn.expect_closed()
    # The daemon still serves everyone else.
    code, out, _ = relay.cli(token, "send", "--to", "phone", "still here")
    assert (code, out) == (0, "stored\n")
    assert relay.proc.poll() is None


def test_partial_frames_are_reassembled():
    relay = Relay().start()
    conn = relay.conn()
    conn.hello(relay.token("alice", "pc"))
    data = frame(hfwire.SEND, [("to", "phone"), ("id", 9), ("payload", b"x" * 5000)])
    for i in range(0, len(data), 7):
        conn.send_raw(data[i:i + 7])
    assert conn.expect(hfwire.SEND_ACK)["id"] == 9


def test_garbage_instead_of_tls_is_dropped():
    import socket
    relay = Relay().start()
    with socket.create_connection(("127.0.0.1", relay.device_port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
        try:
            s.recv(4096)  # a TLS alert, a close or a reset; a hang would time out
        except ConnectionResetError:
            pass
    code, out, _ = relay.cli(relay.token("alice", "pc"), "send", "--to", "phone", "ok")
    assert code == 0


if __name__ == "__main__":
    harness.run(dict(globals()))
