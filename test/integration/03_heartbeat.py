"""03: heartbeats: a silent device is dropped after its timeout and is offline."""

import time

import harness
import hfwire
from harness import Relay


def test_silent_device_is_dropped_and_marked_offline():
    # Interval 1 s, timeout 1.5 s + 0.2 s grace.
    relay = Relay(**{"heartbeat.interval": "1s", "heartbeat.grace": "200ms"}).start()
    phone = relay.conn()
    welcome = phone.hello(relay.token("alice", "phone"))
    assert welcome["timeout_ms"] == 1700, welcome
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))
    # While the phone is online a send is delivered to it.
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"a")])
    assert phone.expect(hfwire.DELIVER)["payload"] == b"a"
    # The phone goes silent; the pc keeps pinging.
    started = time.monotonic()
    err = None
    while time.monotonic() - started < 10:
        pc.send(hfwire.PING, [("id", 1)])
        # The SEND_ACK ("stored", once the phone is gone) may come first.
        while (got := pc.recv())[0] == hfwire.SEND_ACK:
            assert got[1]["status"] == hfwire.STORED, got
        assert got[0] == hfwire.PONG, got
        try:
            got = phone.recv(timeout=0.3)
        except TimeoutError:
            continue
        if got and got[0] == hfwire.ERROR:
            err = got[1]
            break
    assert err and err["code"] == hfwire.ERR["timeout"], err
    phone.expect_closed()
    pc.recv(timeout=0.1)  # the SEND_ACK for id 1 (stored: never acknowledged)
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 2), ("payload", b"b")])
    ack = pc.expect(hfwire.SEND_ACK)
    while ack["id"] != 2:
        ack = pc.expect(hfwire.SEND_ACK)
    assert ack["status"] == hfwire.STORED, ack


def test_pinging_device_stays_online():
    relay = Relay(**{"heartbeat.interval": "1s", "heartbeat.grace": "0s"}).start()
    conn = relay.conn()
    conn.hello(relay.token("alice", "pc"))
    for i in range(8):
        time.sleep(0.5)
        conn.send(hfwire.PING, [("id", i)])
        assert conn.expect(hfwire.PONG)["id"] == i


def test_cli_keeps_connection_alive_with_pings():
    relay = Relay(**{"heartbeat.interval": "1s", "heartbeat.grace": "0s"}).start()
    phone = relay.token("alice", "phone")
    listener = relay.cli_background(phone, "--verbose", "listen", "--timeout", "4")
    code, out, err = harness.finish_background(listener)
    assert code == 0, err
    assert "timeout" not in relay.log(), "the CLI's pings did not keep it alive"
    assert err.count("state connected") == 1, err


def test_adaptive_interval_grows_then_steps_back_after_a_failure():
    import signal
    # Short bounds so the probe runs in seconds: 100 ms up to 800 ms.
    relay = Relay(**{"heartbeat.module": "adaptive", "heartbeat.min": "100ms", "heartbeat.max": "800ms",
                     "heartbeat.initial": "100ms", "heartbeat.grace": "100ms",
                     "allocator.backoff_base": "100ms", "allocator.backoff_cap": "300ms"}).start()
    conn = relay.conn()
    welcome = conn.hello(relay.token("alice", "pc"))
    assert (welcome["heartbeat_min_ms"], welcome["heartbeat_max_ms"]) == (100, 800), welcome
    # A PING may ask for a new interval; the server clamps it and sizes the timeout.
    conn.send(hfwire.PING, [("id", 1), ("heartbeat_ms", 5000)])
    pong = conn.expect(hfwire.PONG)
    assert (pong["heartbeat_ms"], pong["timeout_ms"]) == (800, 1300), pong
    conn.close()

    listener = relay.cli_background(relay.token("alice", "phone"), "--verbose", "listen", "--timeout", "40")
    # 100 -> 150 -> 225 -> 337 -> 505 -> 757 -> 800, three PONGs per step.
    harness.wait_until(lambda: "alice/phone heartbeat now 800 ms" in relay.log(), 20, "interval grew to 800 ms")
    # The path fails: the server freezes past the client's ping wait.
    relay.proc.send_signal(signal.SIGSTOP)
    time.sleep(2.0)
    relay.proc.send_signal(signal.SIGCONT)
    harness.wait_until(lambda: "alice/phone online, heartbeat 757ms" in relay.log(), 20,
                       "reconnected at the last good interval")
    listener.terminate()
    _, err = listener.communicate(timeout=10)
    assert "no PONG at 800 ms; using 757 ms, pinned" in err, err


if __name__ == "__main__":
    harness.run(dict(globals()))
