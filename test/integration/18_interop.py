"""18: other TLS stacks as devices. OpenSSL's s_client, GnuTLS's
gnutls-cli, Node's tls and Python's ssl each connect to the device port,
say HELLO, take and send a 200 KB message, change their keys where the
tool can (gnutls-cli's ^rekey^; s_client's commands are off in -quiet
mode, and Python's and Node's ssl have no KeyUpdate: OpenSSL's is tested
in test/unit/test_tls_stream.cc), exchange again, and close. The command-line clients are pipes: stdin
goes to the server, what it sends comes out on stdout, and the test
speaks the frames through them. (Chromium is tested over WebSocket by
test/browser; a -maxfraglen 512 client by 15_tls_layer.py.)"""

import os
import shutil
import subprocess
import threading
import time

import harness
import hfwire
from harness import Relay

BIG = bytes((i * 7 + 1) % 256 for i in range(200 * 1024))

# Node: a pipe over tls.connect, ending its side (close_notify) when stdin ends.
NODE_PIPE = r"""
const tls = require('tls'), fs = require('fs');
const [port, ca] = process.argv.slice(1);
const s = tls.connect({host: '127.0.0.1', port: +port, ca: fs.readFileSync(ca), servername: '127.0.0.1'}, () => {
  process.stdin.pipe(s);
});
s.pipe(process.stdout);
s.on('error', e => { console.error(String(e)); process.exit(1); });
"""


class Pipe:
    """A client process that carries bytes: stdin to the server, the
    server's bytes to stdout, read by a thread into self.out."""

    def __init__(self, argv, rekey=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.rekey_line = rekey
        self.out = b""
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                return
            with self.lock:
                self.out += chunk

    def send(self, mtype, fields):
        self.proc.stdin.write(hfwire.frame(mtype, fields))
        self.proc.stdin.flush()

    def expect(self, mtype, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = hfwire.take_frame(self.out)
                if got:
                    self.out = got[1]
                    assert got[0][0] == mtype, "expected type %d, got %r" % (mtype, got[0][0])
                    return got[0][1]
            if self.proc.poll() is not None and not self.thread.is_alive():
                raise AssertionError("client exited (%s): %s" % (self.proc.returncode, self.proc.stderr.read()[-500:]))
            time.sleep(0.01)
        raise AssertionError("no frame of type %d within %ds" % (mtype, timeout))

    def rekey(self):
        # gnutls-cli takes a command only at the start of a line: a PING
        # whose id is 10 ends with a line feed.
        self.send(hfwire.PING, [("id", 10)])
        assert self.expect(hfwire.PONG)["id"] == 10
        self.proc.stdin.write(self.rekey_line)
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(1)
        except subprocess.TimeoutExpired:
            self.proc.terminate()  # s_client -quiet does not end at end of input
            self.proc.wait(5)


class Direct:
    """Python's ssl, with the same face as Pipe."""

    def __init__(self, relay):
        self.conn = hfwire.Conn(relay.device_port, relay.ca, timeout=10)
        self.rekey_line = None

    def send(self, mtype, fields):
        self.conn.send(mtype, fields)

    def expect(self, mtype, timeout=10):
        return self.conn.expect(mtype, timeout)

    def close(self):
        self.conn.sock.unwrap()  # close_notify
        self.conn.close()


def round_trip(relay, dev, pc, name, msg_id):
    """200 KB to the client and 200 KB from it, each acknowledged."""
    pc.send(hfwire.SEND, [("to", name), ("id", msg_id), ("payload", BIG)])
    got = dev.expect(hfwire.DELIVER)
    assert got["payload"] == BIG and got["from"] == "pc", (len(got["payload"]), got["from"])
    dev.send(hfwire.DELIVER_ACK, [("upto", got["seq"])])
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.DELIVERED
    dev.send(hfwire.SEND, [("to", "pc"), ("id", msg_id), ("payload", BIG[::-1])])
    got = pc.expect(hfwire.DELIVER, 10)
    assert got["payload"] == BIG[::-1] and got["from"] == name
    pc.send(hfwire.DELIVER_ACK, [("upto", got["seq"])])
    assert dev.expect(hfwire.SEND_ACK)["status"] == hfwire.DELIVERED


def interop(make_client, name):
    relay = Relay().start()
    pc = relay.conn()
    pc.hello(relay.quick_token("alice", "pc"))
    dev = make_client(relay)
    try:
        dev.send(hfwire.HELLO, [("token", relay.quick_token("alice", name)), ("version_min", 1), ("version_max", 1)])
        welcome = dev.expect(hfwire.WELCOME)
        assert welcome["device"] == name, welcome
        round_trip(relay, dev, pc, name, 1)
        if dev.rekey_line:
            dev.rekey()
            round_trip(relay, dev, pc, name, 2)
            harness.wait_until(lambda: relay.metric("handoff_connections") == 2, 5, "both connected")
    finally:
        dev.close()
    harness.wait_until(lambda: "alice/%s offline" % name in relay.log(), 5, name + " offline")
    assert "TLS:" not in relay.log(), relay.log()[-2000:]


def test_openssl_s_client():
    interop(lambda r: Pipe(["openssl", "s_client", "-quiet", "-CAfile", r.ca, "-connect",
                            "127.0.0.1:%d" % r.device_port]), "openssl")


def test_gnutls_cli():
    assert shutil.which("gnutls-cli"), "gnutls-cli is missing: tools/check installs gnutls-bin"
    log = os.path.join(harness.BUILDDIR, "gnutls-cli.log")
    # ^rekey^: a KeyUpdate that asks the daemon for its own (GnuTLS's
    # inline command); the rest of the input is passed through as it is.
    interop(lambda r: Pipe(["gnutls-cli", "--x509cafile", r.ca, "--logfile", log, "--inline-commands",
                            "-p", str(r.device_port), "127.0.0.1"], rekey=b"^rekey^\n"), "gnutls")


def test_node_tls():
    interop(lambda r: Pipe(["node", "-e", NODE_PIPE, str(r.device_port), r.ca]), "node")


def test_python_ssl():
    interop(Direct, "python")


if __name__ == "__main__":
    harness.run(dict(globals()))
