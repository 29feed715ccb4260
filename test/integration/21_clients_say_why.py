"""21: clients say why, and never retry the hopeless (libhandoff(3),
"Failures"): a wrong CA, nothing listening, a refused token and an
oversized payload among good ones, through the CLI (its message and exit
status) and through the library's callbacks (test/integration/lib_probe)."""

import os
import re
import subprocess

import harness
import hfwire
from harness import Relay

PROBE = os.path.join(harness.BUILDDIR, "test", "integration", "lib_probe")


def probe(relay, token, *sizes, ca=None, allocator=None):
    """lib_probe's lines: what hf_client_send said, each state change with
    the last error, each on_send_result."""
    out = subprocess.run([PROBE, allocator or "127.0.0.1:%d" % relay.alloc_port, ca or relay.ca, token, "phone"]
                         + [str(s) for s in sizes], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def first_backing_off(allocator, relay, token):
    """lib_probe's first backing-off line: a transient failure, retried."""
    proc = subprocess.Popen([PROBE, allocator, relay.ca, token, "phone", "5"], stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("state backing-off"):
                return line
        raise AssertionError("no backing-off state")
    finally:
        proc.kill()
        proc.wait()


def test_a_wrong_ca_stops_at_once_and_says_so():
    relay = Relay().start()
    other = Relay()  # its own throwaway CA, which did not sign relay's certificate
    token = relay.token("alice", "pc")
    out = subprocess.run([harness.HANDOFF, "--allocator", "127.0.0.1:%d" % relay.alloc_port, "--ca", other.ca,
                          "--token", token, "send", "--timeout", "20", "--to", "phone", "hi"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 4, (out.returncode, out.stderr)
    assert "certificate verify failed" in out.stderr and "is --ca the CA" in out.stderr, out.stderr
    lines = probe(relay, token, 5, ca=other.ca)
    assert any(line.startswith("state stopped code 100 certificate permanent 1") for line in lines), lines


def test_nothing_listening_is_said_as_connection_refused():
    relay = Relay().start()
    token = relay.token("alice", "pc")
    dead = "127.0.0.1:%d" % harness.free_port()
    out = subprocess.run([harness.HANDOFF, "--allocator", dead, "--ca", relay.ca, "--token", token, "send",
                          "--timeout", "2", "--to", "phone", "hi"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 3, (out.returncode, out.stderr)
    assert "last failure: allocator %s: Connection refused" % dead in out.stderr, out.stderr
    line = first_backing_off(dead, relay, token)  # transient: it backs off and tries again
    assert "code 102 refused permanent 0" in line and "Connection refused" in line, line


def test_a_full_address_is_said_and_its_retry_ms_waited():
    relay = Relay(**{"limits.max_connections_per_address": 1, "allocator.backoff_base": "1500ms"}).start()
    held = relay.conn()
    held.hello(relay.token("alice", "tablet"))
    line = first_backing_off("127.0.0.1:%d" % relay.alloc_port, relay, relay.token("alice", "pc"))
    assert "code 20 too_many_connections permanent 0" in line, line
    assert "limits.max_connections_per_address reached" in line, line
    wait = re.search(r"again in (\d+) ms", line)
    assert wait and int(wait.group(1)) >= 1500, line


def test_a_refused_token_stops_with_its_code():
    relay = Relay().start()
    with open(relay.secret_file) as f:
        secret = f.read().strip()
    forged = hfwire.mint_token(secret[::-1], "alice", "pc", 2 ** 31)
    code, _, err = relay.cli(forged, "send", "--timeout", "20", "--to", "phone", "hi")
    assert code == 4 and "bad_token" in err, (code, err)
    lines = probe(relay, forged, 5)
    assert any(line.startswith("state stopped code 9 bad_token permanent 1") for line in lines), lines


def test_an_oversized_payload_fails_alone_and_the_good_ones_arrive():
    relay = Relay().start()
    phone = relay.conn()
    phone.hello(relay.token("alice", "phone"))
    token = relay.token("alice", "pc")
    lines = probe(relay, token, 10, 270000, 20)
    assert lines[:3] == ["send 10 bytes: queued", "send 270000 bytes: payload_too_large", "send 20 bytes: queued"], lines
    results = [line for line in lines if line.startswith("result")]
    assert len(results) == 2 and all(" code ok" in r for r in results), lines
    got = []
    for _ in range(2):
        msg = phone.expect(hfwire.DELIVER)
        got.append(len(msg["payload"]))
        phone.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    assert got == [10, 20], got
    # The CLI: one line, exit 1, nothing sent.
    code, _, err = relay.cli(token, "send", "--to", "phone", "-", stdin="x" * 270000)
    assert code == 1 and err.startswith("rejected: payload_too_large: the message is 270000 bytes"), (code, err)
    assert len(err.splitlines()) == 1, err
    phone.send(hfwire.PING, [("id", 5)])
    assert phone.expect(hfwire.PONG)["id"] == 5  # no DELIVER came before it


def test_libhandoff_refuses_a_message_into_the_dead_letters():
    """hf_client_refuse: the message the application cannot take moves to
    the device's dead-letter list, those around it are acknowledged, and
    nothing comes again."""
    relay = Relay(api_keys=True).start()
    pc = relay.token("alice", "pc")
    for text in ("first", "poison", "third"):
        code, out, _ = relay.cli(pc, "send", "--to", "phone", text)
        assert (code, out) == (0, "stored\n"), out
    out = subprocess.run([PROBE, "127.0.0.1:%d" % relay.alloc_port, relay.ca, relay.token("alice", "phone"),
                          "--refuse", "poison", "3"], capture_output=True, text=True, timeout=30)
    lines = [line for line in out.stdout.splitlines() if line.startswith("message ")]
    assert lines == ["message first acknowledged (0)", "message poison refused (0)",
                     "message third acknowledged (0)"], out.stdout
    listed = harness.wait_until(lambda: relay.api("GET", "/v1/accounts/alice/dead-letters")[1]["dead_letters"], 5,
                                "the dead letter")
    assert [(e["device"], e["from"], e["error"]) for e in listed] == [("phone", "pc", "bad_field")], listed
    assert "the probe cannot take it" in listed[0]["reason"]
    code, out, _ = relay.cli(relay.token("alice", "phone"), "listen", "--timeout", "1")
    assert out == "", "a refused or acknowledged message came again: %r" % out


if __name__ == "__main__":
    harness.run(dict(globals()))
