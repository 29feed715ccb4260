"""14: TLS session resumption. A device that kept its ticket resumes on the
server that issued it, and on any server sharing tls.ticket_key_file; one
without the key makes a full handshake; a ticket key file too short is
refused at start; libhandoff (the CLI) resumes after a server restart."""

import os
import ssl

import harness
import hfwire
from harness import Relay


def key_file(relay, size=80):
    path = os.path.join(relay.dir, "ticket.key")
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    os.chmod(path, 0o600)
    return path


def handshake(relay, ctx, session=None):
    """A device's connection up to WELCOME (the ticket comes after the
    handshake); returns the session it ends with and whether it resumed."""
    conn = hfwire.Conn(relay.device_port, relay.ca, ctx=ctx, session=session)
    conn.hello(relay.token("alice", "phone"))
    conn.send(hfwire.PING, [("id", 1)])
    assert conn.expect(hfwire.PONG)["id"] == 1
    result = conn.sock.session, conn.sock.session_reused
    conn.close()
    return result


def test_a_device_resumes_on_the_server_that_issued_its_ticket():
    relay = Relay().start()
    ctx = ssl.create_default_context(cafile=relay.ca)
    session, reused = handshake(relay, ctx)
    assert not reused and session is not None
    _, reused = handshake(relay, ctx, session)
    assert reused
    assert relay.metric("handoff_tls_resumed_total") == 1


def test_servers_sharing_a_ticket_key_resume_each_others_sessions():
    a = Relay(server_id="a")
    shared = key_file(a)
    a.settings["tls.ticket_key_file"] = shared
    a.write_config()
    a.start()
    b = Relay(share=a, server_id="b", **{"tls.ticket_key_file": shared}).start()
    c = Relay(share=a, server_id="c").start()  # a key of its own
    ctx = ssl.create_default_context(cafile=a.ca)
    session, _ = handshake(a, ctx)
    _, reused = handshake(b, ctx, session)
    assert reused, "b did not resume a's session"
    _, reused = handshake(c, ctx, session)
    assert not reused  # a full handshake instead, which works
    assert (b.metric("handoff_tls_resumed_total"), c.metric("handoff_tls_resumed_total")) == (1, 0)


def test_a_short_ticket_key_file_is_refused_at_start():
    relay = Relay()
    relay.settings["tls.ticket_key_file"] = key_file(relay, size=40)
    relay.write_config()
    started = True
    try:
        relay.start()
    except AssertionError:
        started = False
    assert not started, "handoffd started with a 40-byte ticket key"
    assert "at least 80 secret bytes" in relay.log(), relay.log()


def test_the_client_library_resumes_after_a_restart():
    relay = Relay(**{"allocator.backoff_base": "100ms", "allocator.backoff_cap": "300ms"})
    relay.settings["tls.ticket_key_file"] = key_file(relay)
    relay.write_config()
    relay.start()
    listener = relay.cli_background(relay.token("alice", "phone"), "--verbose", "listen", "--timeout", "20")
    harness.wait_until(lambda: "alice/phone online" in relay.log(), 10, "the CLI to connect")
    relay.stop()
    relay.start()  # same ticket key: the CLI's ticket is still good
    harness.wait_until(lambda: relay.log().count("alice/phone online") >= 2, 15, "the CLI to reconnect")
    assert relay.metric("handoff_tls_resumed_total") >= 1, "the CLI made a full handshake"
    listener.terminate()
    listener.communicate(timeout=10)


if __name__ == "__main__":
    harness.run(dict(globals()))
