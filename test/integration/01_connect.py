"""01: configuration checks, allocation, HELLO, tokens, modules."""

import os
import socket
import subprocess
import tempfile
import time

import harness
import hfwire
from harness import Relay


def test_config_check_reports_file_and_line():
    relay = Relay()
    out = subprocess.run([harness.HANDOFFD, "-t", "-c", relay.config], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with open(relay.config, "a") as f:
        f.write('limits = { max_frame = "huge"; };\n')
    out = subprocess.run([harness.HANDOFFD, "-t", "-c", relay.config], capture_output=True, text=True)
    lines = open(relay.config).read().count("\n")
    assert out.returncode == 78, out
    assert out.stderr.startswith("%s:%d: limits.max_frame: expected a size" % (relay.config, lines)), out.stderr
    with open(relay.config, "a") as f:
        f.write("typo_key = 1;\n")
    out = subprocess.run([harness.HANDOFFD, "-t", "-c", relay.config], capture_output=True, text=True)
    assert "limits.max_frame" in out.stderr  # the first error is reported first


def test_unknown_key_and_bad_duration():
    relay = Relay(**{"limits.hello_timeout": 10})
    out = subprocess.run([harness.HANDOFFD, "-t", "-c", relay.config], capture_output=True, text=True)
    assert out.returncode == 78
    assert "limits.hello_timeout: expected a duration with a unit" in out.stderr, out.stderr
    relay = Relay(**{"limits.helo_timeout": "1s"})
    out = subprocess.run([harness.HANDOFFD, "-t", "-c", relay.config], capture_output=True, text=True)
    assert 'unknown key "limits.helo_timeout"' in out.stderr, out.stderr


def test_log_lines_carry_their_priority_for_the_journal():
    """Under systemd, stderr is the journal (JOURNAL_STREAM names it): each
    line starts with its syslog priority and no timestamp, so
    journalctl -p warning shows the warnings (812d479: all info)."""
    relay = Relay()
    open(relay.log_path, "a").close()
    st = os.stat(relay.log_path)
    relay.env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    relay.start()
    relay.conn().hello(relay.quick_token("alice", "pc"))  # a debug line or two
    harness.wait_until(lambda: "<7>" in relay.log(), 5, "a debug line")
    lines = relay.log().splitlines()
    assert any(line.startswith("<6>handoffd ") and " ready: " in line for line in lines), lines[:5]
    assert any(line.startswith("<4>memory: store memory keeps queues") for line in lines), lines[:5]
    assert not any(line[:2] == "20" for line in lines), "a timestamp the journal would add again"


def test_log_format_json_is_one_object_a_line():
    import json
    relay = Relay(**{"log.format": "json"}).start()
    entries = [json.loads(line) for line in relay.log().splitlines() if line.strip()]
    assert entries and all(set(e) == {"time", "level", "module", "message"} for e in entries), entries[:3]
    warning = [e for e in entries if e["module"] == "memory"][0]
    assert warning["level"] == "warning" and "every stored message is lost" in warning["message"], warning
    assert any(e["level"] == "info" and " ready: " in e["message"] for e in entries)


def test_allocator_answers_with_the_server_address():
    relay = Relay().start()
    conn = relay.conn(relay.alloc_port)
    conn.send(hfwire.ALLOC_REQ, [("token", relay.token("alice", "pc"))])
    resp = conn.expect(hfwire.ALLOC_RESP)
    assert resp["address"] == ["127.0.0.1:%d" % relay.device_port], resp
    assert resp["backoff_base_ms"] == 1000 and resp["backoff_cap_ms"] == 60000, resp
    conn.expect_closed()


def test_welcome_grants_heartbeat():
    relay = Relay(**{"heartbeat.interval": "20s", "heartbeat.grace": "1s", "delivery.window": 7}).start()
    conn = relay.conn()
    welcome = conn.hello(relay.token("alice", "pc"), heartbeat_ms=5000)
    assert welcome["heartbeat_ms"] == 20000, welcome
    assert welcome["timeout_ms"] == 31000, welcome  # 1.5 x 20 s + 1 s grace
    assert welcome["window"] == 7 and welcome["version"] == 1, welcome
    assert welcome["account"] == "alice" and welcome["device"] == "pc", welcome
    conn.send(hfwire.PING, [("id", 42)])
    assert conn.expect(hfwire.PONG) == {"id": 42}


def expect_refused(relay, token, code, port=None):
    conn = relay.conn(port)
    conn.send(hfwire.ALLOC_REQ if port else hfwire.HELLO, [("token", token)])
    err = conn.expect(hfwire.ERROR)
    assert err["code"] == hfwire.ERR[code], err
    conn.expect_closed()


def test_bad_tokens_are_refused():
    relay = Relay().start()
    other = os.path.join(relay.dir, "other.secret")
    with open(other, "w") as f:
        f.write("not the secret the relay knows\n")
    forged = relay.token("alice", "pc", secret_file=other)
    expired = relay.token("alice", "pc", ttl="1s")
    wrong_key = relay.token("alice", "pc", key_id="k9")
    time.sleep(2.1)  # clock skew default is 60 s; see below for a tight one
    for port in (None, relay.alloc_port):
        expect_refused(relay, forged, "bad_token", port)
        expect_refused(relay, wrong_key, "unknown_key", port)
        expect_refused(relay, "hf1.garbage", "bad_token", port)
    strict = Relay(**{"tokens.clock_skew": "0s"}).start()
    expired = strict.token("alice", "pc", ttl="1s")
    time.sleep(2.1)
    expect_refused(strict, expired, "token_expired")
    # And the CLI says so and exits 4, without retrying forever.
    code, _, err = strict.cli(expired, "send", "--to", "phone", "x")
    assert code == 4 and "token_expired" in err, (code, err)


def test_hello_timeout_closes_silent_connection():
    relay = Relay(**{"limits.hello_timeout": "300ms"}).start()
    conn = relay.conn()
    err = conn.expect(hfwire.ERROR, timeout=5)
    assert err["code"] == hfwire.ERR["timeout"], err
    conn.expect_closed()


def test_unsupported_version():
    relay = Relay().start()
    conn = relay.conn()
    conn.send(hfwire.HELLO, [("token", relay.token("alice", "pc")), ("version_min", 2), ("version_max", 3)])
    assert conn.expect(hfwire.ERROR)["code"] == hfwire.ERR["unsupported_version"]


def test_alloc_req_outside_our_version_is_refused_as_hello_is():
    relay = Relay().start()
    token = relay.token("alice", "pc")
    for asked in ([("version_min", 2), ("version_max", 2)], [("version_min", 2)], [("version_max", 0)]):
        conn = hfwire.Conn(relay.alloc_port, relay.ca)
        conn.send(hfwire.ALLOC_REQ, [("token", token)] + asked)
        assert conn.expect(hfwire.ERROR)["code"] == hfwire.ERR["unsupported_version"], asked
        conn.close()
    # A range that holds version 1 is answered with version 1.
    conn = hfwire.Conn(relay.alloc_port, relay.ca)
    conn.send(hfwire.ALLOC_REQ, [("token", token), ("version_min", 1), ("version_max", 5)])
    assert conn.expect(hfwire.ALLOC_RESP)["version"] == 1


def free_port_run(count):
    """A base port whose next count - 1 ports are free too."""
    for _ in range(50):
        base = harness.free_port()
        if base + count > 32768:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise AssertionError("no run of %d free loopback ports below 32768" % count)


def test_dev_banner_names_the_ports_of_the_config_it_runs():
    """A dev folder keeps its handoffd.conf; started again with another
    --port-base, --dev runs that config's ports and must print them."""
    written = free_port_run(5)
    folder = tempfile.mkdtemp(prefix="handoff-test-dev-")
    subprocess.run([harness.HANDOFFD, "--dev", "--dev-dir", folder, "--port-base", str(written), "-t"], check=True,
                   stdout=subprocess.DEVNULL)
    other = written + 10 if written + 15 < 32768 else written - 10
    proc = subprocess.Popen([harness.HANDOFFD, "--dev", "--dev-dir", folder, "--port-base", str(other)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        banner = ""
        while "Browsers:" not in banner:
            line = proc.stdout.readline()
            assert line, "handoffd --dev exited before its banner: %s" % banner
            banner += line
    finally:
        proc.terminate()
        proc.wait(10)
    assert "allocator 127.0.0.1:%d, devices 127.0.0.1:%d" % (written, written + 1) in banner, banner
    assert "HANDOFF_ALLOCATOR=127.0.0.1:%d " % written in banner, banner
    assert str(other) not in banner, banner


def start_fails(relay):
    """Starts the relay's daemon in the foreground; (exit status, stderr) of
    a start that ends at once."""
    out = subprocess.run([harness.HANDOFFD, "-f", "-c", relay.config], capture_output=True, text=True, timeout=10)
    return out.returncode, out.stderr


def checked(relay):
    out = subprocess.run([harness.HANDOFFD, "-t", "-c", relay.config], capture_output=True, text=True, timeout=10)
    return out.returncode, out.stderr


def test_module_with_other_abi_is_refused():
    relay = Relay(**{"store.module": "badabi"})
    code, err = start_fails(relay)
    assert code == 78 and "speaks no ABI version this daemon speaks" in err, (code, err)
    relay = Relay(**{"store.module": "nonexistent"})
    code, err = start_fails(relay)
    assert code == 78 and "cannot load module" in err, (code, err)


def test_a_module_built_against_0_1_0s_header_still_loads():
    """hb_v1_0, built against handoffd 0.1.0's module.h: its ops table ends
    before the ops appended since (check), and the daemon takes it as it
    is, as module.h's compatibility rule says. 812d479's daemon refused
    any table smaller than its own."""
    relay = Relay(**{"heartbeat.module": "v1_0"})
    code, err = checked(relay)
    assert code == 0, (code, err)
    relay.start()
    conn = relay.conn()
    welcome = conn.hello(relay.token("alice", "pc"))
    assert welcome["heartbeat_ms"] == 42000, welcome  # the old module's grant
    conn.close()


def test_module_keys_are_checked():
    relay = Relay(**{"heartbeat.intervall": "5s"})
    code, err = start_fails(relay)
    assert code == 78 and 'module "fixed" has no such key' in err, (code, err)


def test_t_refuses_what_the_start_would_refuse_and_the_start_exits_78():
    """Each config mistake is found by -t and refused by a start with
    status 78 (systemd's RestartPreventExitStatus), before anything binds
    or touches the store. On 812d479 -t said ok to the first three, and
    the start failed with status 1, which systemd restarts."""
    port = harness.free_port()
    mistakes = [
        ({"store.module": "lmdb", "store.adress": "x"}, 'module "lmdb" has no such key'),
        ({"store.module": "lmdb", "store.sync": "batched"}, 'store.sync must be "always", "batch" or "off"'),
        ({"workers": 2, "listen.device": "127.0.0.1:%d" % port, "metrics.listen": "127.0.0.1:%d" % (port + 1)},
         "listen.device of worker 1 (127.0.0.1:%d) is the address of metrics.listen" % (port + 1)),
        ({"listen.device": "0.0.0.0:%d" % port}, "set advertise = \"relay.example.org:%d\"" % port),
        ({"store.module": "redis", "store.address": "nohost"}, 'store.address "nohost": expected host:port'),
        ({"heartbeat.module": "adaptive", "heartbeat.min": "60s", "heartbeat.max": "10s"},
         "heartbeat.max must not be below heartbeat.min"),
    ]
    for settings, said in mistakes:
        relay = Relay(**settings)
        code, err = checked(relay)
        assert code == 78 and said in err, (settings, code, err)
        code, err = start_fails(relay)
        assert code == 78 and said in err, (settings, code, err)
    # The same listener with advertise set is fine.
    relay = Relay(**{"listen.device": "0.0.0.0:%d" % port, "advertise": "127.0.0.1:%d" % port})
    assert checked(relay)[0] == 0


def test_replaced_device_gets_error():
    relay = Relay().start()
    token = relay.token("alice", "pc")
    first = relay.conn()
    first.hello(token)
    second = relay.conn()
    second.hello(token)
    assert first.expect(hfwire.ERROR)["code"] == hfwire.ERR["replaced"]
    first.expect_closed()
    second.send(hfwire.PING, [("id", 1)])
    second.expect(hfwire.PONG)



def test_server_name_is_what_the_certificate_must_name():
    relay = Relay().start()
    token = relay.token("alice", "pc")
    # The test certificate names localhost and 127.0.0.1, not relay.example.
    code, _, err = relay.cli(token, "--server-name", "localhost", "ping", "--timeout", "5")
    assert code == 0, err
    # A certificate that does not name the server is permanent: the client
    # stops at once and says why (issue 19), without --verbose.
    code, _, err = relay.cli(token, "--server-name", "relay.example", "ping", "--timeout", "10")
    assert code == 4, err
    assert "certificate name mismatch" in err and "--server-name" in err, err

if __name__ == "__main__":
    harness.run(dict(globals()))
