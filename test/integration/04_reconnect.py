"""04: a client whose server restarts reconnects by itself and gets what was stored."""

import signal
import time

import harness
import hfwire
from harness import Relay, finish_background
from tcpproxy import TcpProxy


def restart_while_listening(stop_signal):
    # Short backoff hints so the test does not wait out a long jitter.
    relay = Relay(**{"allocator.backoff_base": "100ms", "allocator.backoff_cap": "500ms"}).start()
    phone, pc = relay.token("alice", "phone"), relay.token("alice", "pc")
    listener = relay.cli_background(phone, "--verbose", "listen", "--count", "2", "--timeout", "30")
    harness.wait_until(lambda: "alice/phone online" in relay.log(), 10, "phone online")
    code, out, _ = relay.cli(pc, "send", "--to", "phone", "before")
    assert (code, out) == (0, "delivered\n"), out
    relay.stop(stop_signal)
    time.sleep(0.5)  # the listener is now backing off against a dead relay
    relay.start()
    # The memory store starts empty: what is stored after the restart must
    # reach the listener once it has found its way back.
    code, out, err = relay.cli(pc, "send", "--to", "phone", "after restart")
    assert code == 0 and out in ("stored\n", "delivered\n"), (code, out, err)
    code, out, err = finish_background(listener, timeout=30)
    assert code == 0, (code, out, err)
    assert out == "before\nafter restart\n", out
    assert "backing-off" in err or "failed" in err, err  # the listener saw the outage
    return err


def test_reconnects_after_sigterm():
    err = restart_while_listening(signal.SIGTERM)
    assert "GOAWAY" in err, err  # a stopping server tells its devices


def test_reconnects_after_kill_9():
    restart_while_listening(signal.SIGKILL)


def test_unacknowledged_send_is_resent_after_reconnect():
    relay = Relay(**{"allocator.backoff_base": "100ms", "allocator.backoff_cap": "500ms"})
    # The relay is down when the send starts: the client keeps the message
    # and sends it once a server answers.
    sender = relay.cli_background(relay.token("alice", "pc"), "--verbose", "send", "--to", "phone",
                                  "--timeout", "20", "patient")
    time.sleep(1.0)
    relay.start()
    code, out, err = finish_background(sender)
    assert (code, out) == (0, "stored\n"), (code, out, err)
    code, out, _ = relay.cli(relay.token("alice", "phone"), "listen", "--count", "1", "--timeout", "10")
    assert out == "patient\n", out


def behind_a_proxy(**settings):
    """A relay whose allocator sends devices through a TcpProxy, with short
    backoff hints so that devices come back quickly."""
    proxy = TcpProxy()
    relay = Relay(**{"advertise": "127.0.0.1:%d" % proxy.port, "allocator.backoff_base": "50ms",
                     "allocator.backoff_cap": "300ms", **settings}).start()
    proxy.target_port = relay.device_port
    return proxy, relay


def test_a_message_acknowledged_on_a_lost_connection_is_not_shown_again():
    # The phone reaches the server through a proxy; the server never gets
    # its acknowledgement of "one", so it delivers "one" again after the
    # reconnect. The library knows the phone acknowledged it: the copy is
    # acknowledged, not shown.
    proxy, relay = behind_a_proxy()
    try:
        listener = relay.cli_background(relay.token("alice", "phone"), "--verbose", "listen", "--count", "2",
                                        "--timeout", "30")
        harness.wait_until(lambda: "alice/phone online" in relay.log(), 10, "phone online")
        proxy.lose_upward()
        pc = relay.conn()
        pc.hello(relay.quick_token("alice", "pc"))
        pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"one")])
        assert listener.stdout.readline() == "one\n"
        proxy.cut()
        harness.wait_until(lambda: relay.log().count("alice/phone online") == 2, 10, "phone back online")
        pc.send(hfwire.SEND, [("to", "phone"), ("id", 2), ("payload", b"two")])
        code, out, err = finish_background(listener)
        assert (code, out) == (0, "two\n"), (code, out, err)
        assert "message 1 from pc again" in err and "acknowledged before, not shown" in err, err
        # The copy was acknowledged: nothing is left for the phone.
        code, out, err = relay.cli(relay.token("alice", "phone"), "listen", "--timeout", "1")
        assert out == "", (code, out, err)
    finally:
        proxy.close()


def test_a_closed_connection_does_not_kill_the_client():
    # The proxy closes each connection once the device has sent 20 kB, in
    # the middle of a 200 kB SEND: the device's next writes meet a closed
    # socket (EPIPE). It must treat that as a failed link and keep trying,
    # not die of SIGPIPE.
    proxy, relay = behind_a_proxy(**{"limits.max_frame": "1m"})
    proxy.close_after_upward = 20000
    try:
        code, out, err = relay.cli(relay.token("alice", "pc"), "--verbose", "send", "--to", "phone",
                                   "--timeout", "2", "-", stdin="x" * 200000)
        assert code >= 0, "killed by signal %d" % -code
        assert "failed" in err, err
    finally:
        proxy.close()


if __name__ == "__main__":
    harness.run(dict(globals()))
