"""12: handoffd without -f: detaches, and its exit status tells whether it
serves (what an init script relies on)."""

import os
import signal
import socket
import subprocess
import time

import harness
from harness import Relay


def test_background_start_reports_success_and_writes_pidfile():
    relay = Relay(**{"store.module": "lmdb"})
    pidfile = os.path.join(relay.dir, "handoffd.pid")
    # Relative paths: the daemon works in "/" once detached.
    out = subprocess.run([harness.HANDOFFD, "-c", "handoffd.conf", "-p", "handoffd.pid"], cwd=relay.dir,
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    with open(pidfile) as f:
        pid = int(f.read())
    try:
        # The command returned only once the listener was open.
        socket.create_connection(("127.0.0.1", relay.alloc_port), timeout=2).close()
        code, _, err = relay.cli(relay.token("alice", "pc"), "ping", "--timeout", "5")
        assert code == 0, err
    finally:
        os.kill(pid, signal.SIGTERM)
    harness.wait_until(lambda: not harness.pid_alive(pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z", 15,
                       "the daemon to exit")
    assert not os.path.exists(pidfile)


def test_background_start_failure_is_printed_with_status_1():
    relay = Relay()
    busy = socket.socket()
    busy.bind(("127.0.0.1", relay.device_port))
    busy.listen()
    try:
        out = subprocess.run([harness.HANDOFFD, "-c", relay.config], capture_output=True, text=True, timeout=20)
    finally:
        busy.close()
    assert out.returncode == 1, out
    assert "cannot listen on 127.0.0.1:%d" % relay.device_port in out.stderr, out.stderr
    assert "Address already in use" in out.stderr, out.stderr


if __name__ == "__main__":
    harness.run(dict(globals()))
