"""25: docs/operations.md as written. Its command and config blocks marked
`<!-- guide-test: NAME -->` run here, so the guide fails this test when it
and the software disagree.

The one change made to them is where they run: /etc/handoff becomes a
folder of the test's, the _handoff user and group (the package's) become
the test's own, and the guide's 10.0.0.x addresses 127.0.0.x. A block written for one node ("s1") is run again
for the others with their names, as the guide says to."""

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading

import harness
import hfwire
from harness import Relay

GUIDE = os.path.join(os.environ.get("HF_SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..")), "docs",
                     "operations.md")


def guide_blocks():
    """The marked blocks: name -> text (their indentation taken off)."""
    with open(GUIDE) as f:
        lines = f.read().split("\n")
    blocks = {}
    for n, line in enumerate(lines):
        m = re.match(r"^(\s*)<!-- guide-test: (\S+) -->$", line)
        if not m:
            continue
        indent, name = len(m.group(1)), m.group(2)
        assert lines[n + 1].strip().startswith("```"), "%s: no block after its mark" % name
        body = []
        for text in lines[n + 2:]:
            if text.strip() == "```":
                break
            body.append(text[indent:])
        blocks[name] = "\n".join(body) + "\n"
    return blocks


class Sandbox:
    """/etc/handoff and the package's user, moved to the test's."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="handoff-guide-")
        self.etc = os.path.join(self.root, "etc", "handoff")
        os.makedirs(self.etc)
        self.work = os.path.join(self.root, "work")
        os.makedirs(self.work)
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.group = grp.getgrgid(os.getgid()).gr_name

    def moved(self, text):
        text = text.replace("/etc/handoff", self.etc)
        # The guide's private addresses, on loopback: handoffd -t asks the
        # Redis it names for its format, and tests reach 127.0.0.0/8 only.
        text = text.replace("10.0.0.", "127.0.0.")
        text = text.replace("-o root -g _handoff", "-o %s -g %s" % (self.user, self.group))
        return text.replace("chgrp _handoff", "chgrp " + self.group)

    def sh(self, text):
        out = subprocess.run(["sh", "-e", "-c", self.moved(text)], cwd=self.work, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, "the guide's commands failed:\n%s\n%s" % (self.moved(text), out.stderr)

    def check_config(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(self.moved(text))
        out = subprocess.run([harness.HANDOFFD, "-t", "-c", path], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, "%s as the guide writes it fails handoffd -t: %s" % (name, out.stderr.strip())


def test_the_guides_certificates_credentials_and_configs_pass_handoffd_t():
    """A cluster from zero, steps 2, 3, 5 and 6: the CA and a certificate
    per node, a key per server, the token and API secrets, then both
    configs through handoffd -t, with only the files those steps made."""
    blocks = guide_blocks()
    for name in ("certificates", "server-key", "allocator.conf", "server.conf"):
        assert name in blocks, "docs/operations.md has no block marked %s" % name
    box = Sandbox()
    box.sh(blocks["certificates"])
    # The node half again for each other node, under its own names.
    node = blocks["certificates"][blocks["certificates"].index("# a node"):]
    for other, host in (("a1", "alloc1.example.org"), ("s2", "s2.example.org"), ("s3", "s3.example.org")):
        box.sh(node.replace("s1.example.org", host).replace("s1", other))
    for server in ("s1", "s2", "s3"):
        box.sh(blocks["server-key"].replace("s1", server))
    # The package makes token.secret at install, and the backend's API key
    # is made the same way.
    for secret in ("token.secret", "api.secret"):
        box.sh(blocks["server-key"].replace("servers/s1.key", secret))
    for path in ("s1.pem", "s1.key", "a1.pem", "ca.pem", "servers/s3.key", "api.secret"):
        assert os.path.exists(os.path.join(box.etc, path)), "the guide's steps made no /etc/handoff/" + path
    assert oct(os.stat(os.path.join(box.etc, "servers", "s1.key")).st_mode & 0o777) == "0o640"
    box.check_config("allocator.conf", blocks["allocator.conf"])
    box.check_config("server.conf", blocks["server.conf"])


def test_an_online_backup_under_load_restores_every_message_acknowledged_before_it():
    """Backups and restores, LMDB: the guide's lines copy store.path while
    a sender keeps storing, then a fresh server starts on the copy. Every
    message acknowledged before the copy began is delivered from it; what
    came after may be there or not."""
    if not shutil.which("mdb_copy"):
        raise harness.Skip("mdb_copy is missing (lmdb-utils; tools/deps.sh installs it)")
    relay = Relay(**{"store.module": "lmdb", "store.map_size": "256m", "limits.send_rate": 1000000,
                     "limits.send_burst": 1000000, "limits.frame_rate": 1000000,
                     "limits.frame_burst": 1000000}).start()
    acked, stop = [], threading.Event()

    def sender():
        conn = relay.conn()
        conn.hello(relay.token("alice", "pc"))
        n = 0
        while not stop.is_set():
            n += 1
            conn.send(hfwire.SEND, [("to", "phone"), ("id", n), ("payload", b"msg %06d" % n)])
            f = conn.expect(hfwire.SEND_ACK, timeout=10)
            if f["status"] == hfwire.STORED:
                acked.append(f["id"])
        conn.close()

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    harness.wait_until(lambda: len(acked) >= 500, 30, "500 messages acknowledged")
    before = set(acked)
    box = Sandbox()
    lines = guide_blocks()["backup"].replace("/var/lib/handoff/store", relay.settings["store.path"])
    box.sh(lines.replace("/backup/", box.root + "/"))
    backup, = [os.path.join(box.root, d) for d in os.listdir(box.root) if d.startswith("store-")]
    harness.wait_until(lambda: len(acked) >= len(before) + 200, 30, "sends going on after the copy")
    stop.set()
    thread.join(15)
    relay.stop()
    restored = Relay(**{"store.module": "lmdb", "store.path": backup}).start()
    phone = restored.conn()
    phone.hello(restored.token("alice", "phone"))
    got = set()
    while True:
        try:
            item = phone.recv(timeout=3)
        except TimeoutError:
            break  # nothing more came
        assert item is not None and item[0] == hfwire.DELIVER, item
        got.add(item[1]["id"])
        phone.send(hfwire.DELIVER_ACK, [("upto", item[1]["seq"])])
    missing = before - got
    assert not missing, "%d of %d acknowledged before the backup are not in it: %r" % (
        len(missing), len(before), sorted(missing)[:10])
    assert len(got) < len(acked), "the copy holds what came after it too: it was not taken under load"


def test_a_restore_brings_back_a_revoked_device_and_the_guides_replay_revokes_it_again():
    """Backups and restores, revocations: a device revoked after the
    backup is let in again by a server restored from it, and the guide's
    replay of the audit lines since (journalctl's, here the daemon's log
    file) revokes it again."""
    if not shutil.which("mdb_copy"):
        raise harness.Skip("mdb_copy is missing (lmdb-utils; tools/deps.sh installs it)")
    blocks = guide_blocks()
    relay = Relay(api_keys=True, **{"store.module": "lmdb"}).start()
    online = relay.conn()
    online.hello(relay.token("alice", "phone"))
    online.close()
    box = Sandbox()
    box.sh(blocks["backup"].replace("/var/lib/handoff/store", relay.settings["store.path"])
           .replace("/backup/", box.root + "/"))
    backup, = [os.path.join(box.root, d) for d in os.listdir(box.root) if d.startswith("store-")]
    status, body = relay.api("POST", "/v1/accounts/alice/devices/phone/revoke")
    assert status == 200, body
    relay.stop()
    log = relay.log_path
    relay.settings["store.path"] = backup
    relay.write_config()
    relay.start()

    def hello():
        conn = relay.conn()
        conn.send(hfwire.HELLO, [("token", relay.token("alice", "phone")), ("version_min", 1), ("version_max", 1)])
        got = conn.recv(timeout=5)
        conn.close()
        return got
    assert hello()[0] == hfwire.WELCOME, "the restored store still holds the revocation: the backup came after it"
    replay = re.sub(r"journalctl [^|]*\|", "cat %s |" % log, blocks["replay-revocations"])
    assert "cat %s" % log in replay, "the guide's replay no longer reads journalctl's lines"
    env = dict(os.environ, PATH=harness.BUILDDIR + ":" + os.environ["PATH"],
               HANDOFF_API_URL="https://127.0.0.1:%d" % relay.api_port, HANDOFF_CA=relay.ca,
               HANDOFF_API_KEY_FILE=relay.api_secret)
    out = subprocess.run(["sh", "-e", "-c", replay], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, "the guide's replay failed:\n%s\n%s" % (replay, out.stderr)
    kind, fields = hello()
    assert kind == hfwire.ERROR and fields["code"] == hfwire.ERR["revoked"], (kind, fields)


if __name__ == "__main__":
    harness.run(dict(globals()))
