"""Starts real handoffd processes on 127.0.0.1 and drives them.

Every test gets its own relay (fresh certificates, free ports, its own
folder); when a test fails, the relay's log is printed. Tests end with a
'N passed, N failed' line, as automake and CI read it.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

BUILDDIR = os.environ.get("HF_BUILDDIR", os.getcwd())
# Under ASan freed memory sits in quarantine: RSS says nothing there.
SANITIZED = bool(os.environ.get("HF_SANITIZERS", "").strip())
HANDOFFD = os.path.join(BUILDDIR, "handoffd")
HANDOFF = os.path.join(BUILDDIR, "handoff")
HANDOFFCTL = os.path.join(BUILDDIR, "handoffctl")
FAULTFS = os.path.join(BUILDDIR, "test", "faultfs", "faultfs")


def handoffd_version():
    """The version this build of handoffd says it is (\"handoffd 0.2.0 (...)\")."""
    out = subprocess.run([HANDOFFD, "--version"], capture_output=True, text=True, timeout=10, check=True)
    return out.stdout.split()[1]
os.environ.setdefault("HANDOFF_MODULE_DIR", os.path.join(BUILDDIR, ".libs"))
# The CLI must not pick up a developer's own settings.
for var in ("HANDOFF_ALLOCATOR", "HANDOFF_CA", "HANDOFF_TOKEN"):
    os.environ.pop(var, None)


_ports_given = set()


def npm_ci(folder, module):
    """npm ci in folder (a test's npm packages) unless module is there:
    tests that share a folder may start together, so under a lock."""
    import fcntl
    with open(os.path.join(folder, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(os.path.join(folder, "node_modules", module)):
            out = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=folder,
                                 capture_output=True, text=True)
            assert out.returncode == 0, "npm ci in %s failed: %s" % (folder, out.stderr)


def free_port(bus=False):
    """A free loopback port below the kernel's ephemeral range (32768 and
    up), so that no outgoing connection takes it between now and the bind
    of the process it is meant for. With bus, port + 10000 is free too: a
    Redis Cluster node's bus port."""
    while True:
        port = random.randint(20000, 22767 if bus else 32767)
        if port in _ports_given or (bus and port + 10000 in _ports_given):
            continue  # handed out already, perhaps not bound yet
        try:
            for p in (port, port + 10000) if bus else (port,):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        _ports_given.update((port, port + 10000) if bus else (port,))
        return port


def metric_value(text, series):
    """One series' value in a /metrics page."""
    m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    assert m, "no series %s" % series
    return float(m.group(1))


def in_background(fn, *args):
    """Runs fn(*args) on a thread; the function returned joins it and
    gives fn's result."""
    result = []
    thread = threading.Thread(target=lambda: result.append(fn(*args)))
    thread.start()

    def join():
        thread.join(20)
        return result[0]
    return join


def pid_alive(pid):
    """True while pid is a process (a zombie not yet reaped counts)."""
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def free_block(n):
    """n consecutive free loopback ports: worker k takes the first + k."""
    while True:
        first = free_port()
        try:
            for p in range(first + 1, first + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        _ports_given.update(range(first, first + n))
        return first


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class FaultFS:
    """test/faultfs mounted on a folder of its own: written data stays
    apart until fsync, and commands cut the power, fail the next fsync or
    fill the disk (see faultfs.cc). Unmounted when the test ends."""

    mounts = []

    def __init__(self):
        assert os.path.exists("/dev/fuse"), "/dev/fuse is missing: the fault tests need FUSE (a kernel with it)"
        assert os.path.exists(FAULTFS), "faultfs was not built: libfuse3-dev was missing (tools/check installs it)"
        self.dir = tempfile.mkdtemp(prefix="handoff-faultfs-")
        self.backing = os.path.join(self.dir, "disk")
        self.mount = os.path.join(self.dir, "mnt")
        os.mkdir(self.backing)
        os.mkdir(self.mount)
        self.proc = None
        FaultFS.mounts.append(self)

    def start(self):
        log = open(os.path.join(self.dir, "faultfs.log"), "a")
        self.proc = subprocess.Popen([FAULTFS, self.backing, self.mount, "-f", "-o", "auto_unmount"],
                                     stdout=log, stderr=log)
        def mounted():
            assert self.proc.poll() is None, "faultfs exited: " + open(os.path.join(self.dir, "faultfs.log")).read()
            return os.path.ismount(self.mount)
        wait_until(mounted, 10, "faultfs to mount")
        return self

    def command(self, text):
        with open(os.path.join(self.mount, ".faultfs"), "w") as f:
            f.write(text + "\n")

    def counts(self):
        with open(os.path.join(self.mount, ".faultfs")) as f:
            return {k: int(v) for k, v in (line.split() for line in f if line.strip())}

    def stop(self):
        """Unmounts (nothing may have a file open on it) and ends faultfs:
        the kernel's page cache of its files goes with the mount."""
        if self.proc and self.proc.poll() is None:
            subprocess.run(["fusermount3", "-u", "-z", self.mount], capture_output=True)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def remount(self):
        self.stop()
        return self.start()


class RedisServer:
    """A real redis-server on a free loopback port, persisting every write
    (appendfsync always) so that a restart keeps what was acknowledged."""

    servers = []

    def __init__(self, password=None, cluster=False, port=None, replica_of=None):
        self.dir = tempfile.mkdtemp(prefix="handoff-redis-")
        self.port = port or free_port()
        self.password = password
        self.cluster = cluster
        self.replica_of = replica_of  # a RedisServer this one replicates
        self.proc = None
        if not cluster:
            RedisServer.servers.append(self)

    def start(self):
        # Tests run three at a time: another one may bind the port between
        # free_port() and redis-server's bind. Then a new port, and again.
        log = os.path.join(self.dir, "redis.log")
        for attempt in range(3):
            logged = os.path.getsize(log) if os.path.exists(log) else 0
            try:
                return self.launch()
            except AssertionError:
                with open(log, errors="replace") as f:
                    f.seek(logged)
                    clash = "Address already in use" in f.read()
                if attempt == 2 or not clash:
                    raise
                self.port = free_port(bus=self.cluster)
        return self

    def launch(self):
        # A cluster node's writes are kept by its replica (store.replicas),
        # a lone Redis's by its disk.
        cluster = ["--cluster-enabled", "yes", "--cluster-config-file", os.path.join(self.dir, "nodes.conf"),
                   "--cluster-node-timeout", "1000", "--appendfsync", "everysec"] if self.cluster else [
                   "--appendfsync", "always"]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
             "--appendonly", "yes", "--daemonize", "no", "--protected-mode", "yes"] + cluster
            + (["--requirepass", self.password] if self.password else [])
            + (["--replicaof", "127.0.0.1", str(self.replica_of.port)] if self.replica_of else []),
            stdout=open(os.path.join(self.dir, "redis.log"), "a"), stderr=subprocess.STDOUT)
        def up():
            assert self.proc.poll() is None, "redis-server exited"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    answer = s.recv(64)
                    return answer.startswith(b"+PONG") or answer.startswith(b"-NOAUTH")
            except OSError:
                return False
        wait_until(up, 10, "redis-server to answer")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def address(self):
        return "127.0.0.1:%d" % self.port


    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def cli(self, *args):
        """A redis-cli command against this node; its output."""
        return subprocess.run(["redis-cli", "-p", str(self.port)] + [str(a) for a in args], capture_output=True,
                              text=True, timeout=30).stdout


class Resp:
    """A RESP client on one connection: binary-safe arguments."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise AssertionError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise AssertionError("redis: a reply of kind %r" % kind)


class RedisCluster:
    """A real Redis Cluster on loopback: `primaries` primaries, each with
    `replicas` replicas (1 unless asked), made with redis-cli --cluster
    create. Lives until the test file ends (making one takes seconds), so
    relays keep to their own prefix."""

    clusters = []
    shared = None

    def __init__(self, primaries=3, ports=None, replicas=1):
        self.replicas = replicas
        count = primaries * (1 + replicas)
        while not ports or len(set(ports)) < count:
            ports = [free_port(bus=True) for _ in range(count)]
        self.nodes = [RedisServer(cluster=True, port=p) for p in ports]
        self.primaries = primaries
        RedisCluster.clusters.append(self)

    def start_nodes(self):
        for node in self.nodes:
            node.start()
        return self

    def start(self):
        self.start_nodes()
        out = subprocess.run(["redis-cli", "--cluster", "create"] + [n.address() for n in self.nodes]
                             + ["--cluster-replicas", str(self.replicas), "--cluster-yes"], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, "redis-cli --cluster create failed:\n" + out.stdout + out.stderr
        self.wait_ok(replicated=self.replicas > 0)
        return self

    def live(self):
        return [n for n in self.nodes if n.proc and n.proc.poll() is None]

    def wait_ok(self, timeout=30, replicated=True):
        """Until every live node says the cluster is ok, every slot has a
        live primary and (replicated) every primary a replica in sync, as
        store.replicas = 1 needs."""
        def ok():
            for node in self.live():
                if "cluster_state:ok" not in node.cli("CLUSTER", "INFO"):
                    return False
            ranges = self.slot_ranges()
            live = set(n.address() for n in self.live())
            if sum(hi - lo + 1 for lo, hi, _ in ranges) != 16384 or any(a not in live for _, _, a in ranges):
                return False  # a dead primary not yet replaced
            for address in set(a for _, _, a in ranges) if replicated else ():
                info = next(n for n in self.nodes if n.address() == address).cli("INFO", "replication")
                if "state=online" not in info:
                    return False
            return True
        wait_until(ok, timeout, "the Redis Cluster to be ok")

    def node_lines(self):
        """CLUSTER NODES as a live node sees it, split."""
        return [line.split() for line in self.live()[0].cli("CLUSTER", "NODES").splitlines() if line.strip()]

    def slot_ranges(self):
        """(first, last, "host:port") of every slot range a live primary serves."""
        ranges = []
        for f in self.node_lines():
            if "master" in f[2] and "fail" not in f[2]:
                for part in f[8:]:
                    if part.startswith("["):
                        continue  # a slot being moved
                    lo, _, hi = part.partition("-")
                    ranges.append((int(lo), int(hi or lo), f[1].split("@")[0]))
        return ranges

    def node_of_slot(self, slot):
        for lo, hi, address in self.slot_ranges():
            if lo <= slot <= hi:
                return next(n for n in self.nodes if n.address() == address)
        raise AssertionError("no primary serves slot %d" % slot)

    def node_id(self, node):
        return next(f[0] for f in self.node_lines() if f[1].split("@")[0] == node.address())

    def replica_of(self, primary):
        """The node replicating primary."""
        primary_id = self.node_id(primary)
        address = next(f[1].split("@")[0] for f in self.node_lines() if "slave" in f[2] and f[3] == primary_id)
        return next(n for n in self.nodes if n.address() == address)

    def seeds(self):
        return ",".join(n.address() for n in self.nodes[:self.primaries])

    def stop(self):
        for node in self.nodes:
            node.stop()


def key_slot(key):
    """Redis Cluster's slot of a key: CRC16-XMODEM of its {tag} or all of it."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    crc = 0
    for byte in key.encode():
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc % 16384


def shared_cluster():
    """The Redis Cluster the tests of a file share, made on first use
    (tests that kill nodes make their own)."""
    if not RedisCluster.shared:
        RedisCluster.shared = RedisCluster().start()
    return RedisCluster.shared


def shared_redis():
    """The Redis of this test, started on first use (HF_STORE=redis)."""
    if not RedisServer.servers:
        RedisServer().start()
    return RedisServer.servers[0]


def forget_redis_scripts(relay):
    """SCRIPT FLUSH on the Redis (or every node of the cluster) a relay of
    the Redis store uses, as after a restart: its scripts are new there
    again. Nothing for other stores."""
    if "store.cluster" in relay.settings:
        for node in shared_cluster().nodes:
            node.cli("SCRIPT", "FLUSH")
    elif relay.settings.get("store.module") == "redis":
        shared_redis().cli("SCRIPT", "FLUSH")


class Relay:
    """One handoffd. Config keys are given as dotted names. Daemons of one
    cluster share certificates, token secret and cluster key: pass the
    first one as `share`."""

    relays = []
    made = 0

    def __init__(self, role="standalone", share=None, server_id="test", keys=None, api_keys=None, **settings):
        self.dir = tempfile.mkdtemp(prefix="handoff-test-")
        self.role = role
        if share:
            self.secrets_dir = share.secrets_dir
        else:
            self.secrets_dir = self.dir
            subprocess.run([HANDOFFD, "--dev", "--dev-dir", self.dir, "-t"], check=True,
                           stdout=subprocess.DEVNULL)
            with open(os.path.join(self.dir, "cluster.key"), "w") as f:
                f.write(os.urandom(24).hex() + "\n")
        self.alloc_port = free_port()
        self.device_port = free_port()
        self.metrics_port = free_port()
        self.ca = os.path.join(self.secrets_dir, "ca.pem")
        self.secret_file = os.path.join(self.secrets_dir, "token.secret")
        self.server_id = server_id
        self.keys = keys or [("k1", self.secret_file)]
        # The HTTP API, with (id, secret file, scope) keys: `api_keys=True`
        # gives one admin key "backend" (its secret: self.api_secret).
        self.api_secret = os.path.join(self.secrets_dir, "api.secret")
        if api_keys is True:
            api_keys = [("backend", self.api_secret, "admin")]
        self.api_keys = api_keys or []
        self.api_port = free_port() if self.api_keys else None
        self.settings = {
            "role": role,
            "server_id": server_id,
            "listen.allocator": "127.0.0.1:%d" % self.alloc_port,
            "listen.device": "127.0.0.1:%d" % self.device_port,
            "metrics.listen": "127.0.0.1:%d" % self.metrics_port,
            "tls.certificate": os.path.join(self.secrets_dir, "server.pem"),
            "tls.key": os.path.join(self.secrets_dir, "server.key"),
            # HF_STORE runs the same tests against another store.
            "store.module": os.environ.get("HF_STORE", "memory"),
            "heartbeat.module": "fixed",
            "log.level": "debug",
        }
        if self.api_keys:
            self.settings["listen.api"] = "127.0.0.1:%d" % self.api_port
        if role != "standalone":
            self.settings["cluster.key_file"] = os.path.join(self.secrets_dir, "cluster.key")
            self.settings["register.ca"] = self.ca
        self.settings.update(settings)
        if self.settings["store.module"] == "redis":
            # HF_REDIS=cluster runs them against a Redis Cluster.
            if os.environ.get("HF_REDIS") == "cluster" and "store.address" not in self.settings:
                self.settings.setdefault("store.cluster", shared_cluster().seeds())
            else:
                self.settings.setdefault("store.address", shared_redis().address())
            # Each relay its own key space unless it shares one on purpose
            # (a cluster outlives the tests of a file).
            Relay.made += 1
            self.settings.setdefault("store.prefix", "hf%d-%d:" % (os.getpid(), Relay.made))
        if self.settings["store.module"] == "lmdb":
            self.settings.setdefault("store.path", os.path.join(self.dir, "lmdb"))
            self.settings.setdefault("store.map_size", "64m")
        self.config = os.path.join(self.dir, "handoffd.conf")
        self.env = None  # the daemon's environment (None: this one)
        self.handoffd = HANDOFFD  # the binary (test/upgrade runs another release's)
        self.write_config()
        self.proc = None
        self.log_path = os.path.join(self.dir, "handoffd.log")
        Relay.relays.append(self)

    def uses(self, module):
        return self.settings["store.module"] == module

    def write_config(self):
        # A key is (id, secret_file), (id, algorithm, public_key_file), or
        # (id, algorithm, file, what the file is: "jwks_file").
        keyring = ", ".join('{ id = "%s"; secret_file = "%s"; }' % k if len(k) == 2 else
                            '{ id = "%s"; algorithm = "%s"; %s = "%s"; }' % (
                                k[0], k[1], k[3] if len(k) > 3 else "public_key_file", k[2]) for k in self.keys)
        groups = {"tokens": ["keys = ( %s );" % keyring]}
        if self.api_keys:
            # (id, secret_file, scope), and perhaps the accounts it is kept to.
            api_ring = ", ".join('{ id = "%s"; secret_file = "%s"; scope = "%s"; %s}' % (
                k[0], k[1], k[2], "accounts = [ %s ]; " % ", ".join('"%s"' % a for a in k[3]) if len(k) > 3 else "")
                for k in self.api_keys)
            groups["api"] = ["keys = ( %s );" % api_ring]
        lines = []
        for key, value in self.settings.items():
            if value is None:
                continue  # left to the daemon's default
            if isinstance(value, list) and value and isinstance(value[0], tuple):
                # A list of (id, secret_file): a keyring such as
                # cluster.servers, whose entries may add a weight.
                text = "( %s )" % ", ".join('{ id = "%s"; secret_file = "%s"; %s}' % (
                    k[0], k[1], "weight = %d; " % k[2] if len(k) > 2 else "") for k in value)
            elif isinstance(value, list):
                text = "[ %s ]" % ", ".join('"%s"' % v for v in value)
            elif isinstance(value, str):
                text = '"%s"' % value
            else:
                text = str(value)
            if "." in key:
                group, name = key.split(".", 1)
                groups.setdefault(group, []).append("%s = %s;" % (name, text))
            else:
                lines.append("%s = %s;" % (key, text))
        for group, entries in groups.items():
            lines.append("%s = { %s };" % (group, " ".join(entries)))
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        # Tests run two at a time: another one may bind a port between
        # free_port() and this daemon's bind. Then new ports, and again.
        for attempt in range(3):
            logged = len(self.log()) if os.path.exists(self.log_path) else 0
            try:
                self.launch()
                return self
            except AssertionError:
                if attempt == 2 or "cannot listen" not in self.log()[logged:]:
                    raise
                self.repick_ports()
        return self

    def launch(self):
        # The daemon logs "ready" once every listener is bound; a connect
        # to one port alone could win the race against the next bind.
        logged = len(self.log()) if os.path.exists(self.log_path) else 0
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.handoffd, "-f", "-c", self.config], stdout=log, stderr=log, env=self.env)
        # With workers, the supervisor says so once all of them serve.
        said = " workers ready" if self.settings.get("workers", 1) != 1 else " ready: "
        def ready():
            assert self.proc.poll() is None, "handoffd exited with %s" % self.proc.returncode
            return said in self.log()[logged:]
        wait_until(ready, 10, "handoffd to be ready")

    def repick_ports(self):
        for attr, key in (("alloc_port", "listen.allocator"), ("device_port", "listen.device"),
                          ("metrics_port", "metrics.listen"), ("api_port", "listen.api")):
            port = getattr(self, attr)
            if port is not None and self.settings.get(key) == "127.0.0.1:%d" % port:
                setattr(self, attr, free_port())
                self.settings[key] = "127.0.0.1:%d" % getattr(self, attr)
        if self.settings.get("listen.websocket", "").startswith("127.0.0.1:"):
            self.settings["listen.websocket"] = "127.0.0.1:%d" % free_port()
        self.write_config()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def address(self):
        return "127.0.0.1:%d" % self.device_port

    def probe(self, path):
        """GET path on the metrics listener (/livez, /readyz, /healthz):
        (status, body)."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.metrics_port, path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, series):
        """One series' value on this daemon's /metrics now."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as r:
            return metric_value(r.read().decode(), series)

    def metric_becomes(self, series, wanted, timeout=5):
        """Whether a series reaches a value within timeout seconds: the
        Redis store answers a depth for the next scrape, so this asks
        again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as r:
                text = r.read().decode()
            if re.search("^" + re.escape(series) + " ", text, re.M) and metric_value(text, series) == wanted:
                return True
            time.sleep(0.05)
        return False

    def quick_token(self, account, device):
        """A token minted in-process (no CLI), for tests that need many."""
        import hfwire
        with open(self.secret_file) as f:
            secret = f.read().strip()
        return hfwire.mint_token(secret, account, device, int(time.time()) + 3600)

    def token(self, account, device, ttl="1h", key_id="k1", secret_file=None):
        out = subprocess.run([HANDOFF, "token", "--secret-file", secret_file or self.secret_file,
                              "--account", account, "--device", device, "--ttl", ttl,
                              "--key-id", key_id], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def cli_args(self, token, *args):
        return [HANDOFF, "--allocator", "127.0.0.1:%d" % self.alloc_port, "--ca", self.ca,
                "--token", token] + list(args)

    def cli(self, token, *args, timeout=20, stdin=None):
        """Runs the CLI to its end: (exit status, stdout, stderr)."""
        out = subprocess.run(self.cli_args(token, *args), capture_output=True, text=True,
                             timeout=timeout, input=stdin)
        return out.returncode, out.stdout, out.stderr

    def cli_background(self, token, *args):
        return subprocess.Popen(self.cli_args(token, *args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def api(self, method, path, body=None, secret_file=None, raw=None, headers=()):
        """One HTTP API request with curl: (status, parsed JSON body).
        body is sent as JSON, raw as given; secret_file picks the key
        ("" for none)."""
        secret_file = self.api_secret if secret_file is None else secret_file
        args = ["curl", "-sS", "--max-time", "10", "--cacert", self.ca, "-X", method,
                "-o", "-", "-w", "\n%{http_code}", "-H", "Content-Type: application/json"]
        if secret_file:
            with open(secret_file) as f:
                args += ["-H", "Authorization: Bearer " + f.read().strip()]
        for h in headers:
            args += ["-H", h]
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            args += ["--data-binary", "@-"]
        args.append("https://127.0.0.1:%d%s" % (self.api_port, path))
        out = subprocess.run(args, input=data.encode() if isinstance(data, str) else data,
                             capture_output=True, timeout=20)
        assert out.returncode == 0, out.stderr.decode()
        text, _, status = out.stdout.decode().rpartition("\n")
        return int(status), json.loads(text) if text.strip() else None

    def ctl(self, *args, secret_file=None, stdin=None):
        """Runs handoffctl against this daemon's API: (status, stdout, stderr)."""
        out = subprocess.run([HANDOFFCTL, "--url", "https://127.0.0.1:%d" % self.api_port, "--ca", self.ca,
                              "--key-file", secret_file or self.api_secret] + list(args),
                             capture_output=True, text=True, timeout=20, input=stdin)
        return out.returncode, out.stdout, out.stderr

    def conn(self, port=None):
        import hfwire
        return hfwire.Conn(port or self.device_port, self.ca)

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return "(no log)"


def servers_sharing(store, api_keys=None, members=False):
    """An allocator and two servers s1, s2 registered with it, on one
    shared store (dotted config keys; a store of their own, such as LMDB,
    gives each its own); returns (alloc, [s1, s2]). members: the allocator
    lists them in cluster.servers, each with a key of its own."""
    store = dict(store, **{"allocator.backoff_base": "100ms", "allocator.backoff_cap": "500ms"})
    alloc = Relay("allocator", server_id="a1", **{"allocator.refresh_interval": "300ms"}, **store)
    keys = {}
    if members:
        for sid in ("s1", "s2"):
            keys[sid] = os.path.join(alloc.dir, sid + ".key")
            with open(keys[sid], "w") as f:
                f.write("key of %s, %s\n" % (sid, os.urandom(8).hex()))
        alloc.settings["cluster.servers"] = sorted(keys.items())
        alloc.settings["cluster.key_file"] = None
        alloc.write_config()
    alloc.start()
    nodes = [Relay("server", share=alloc, server_id="s%d" % i, api_keys=api_keys,
                   **{"register.allocators": ["127.0.0.1:%d" % alloc.alloc_port]},
                   **({"cluster.key_file": keys["s%d" % i]} if members else {}), **store).start() for i in (1, 2)]
    for s in nodes:
        wait_until(lambda: "server %s registered" % s.server_id in alloc.log(), 10, "registered")
    return alloc, nodes


def post_live(relay, account, phone, data):
    """POSTs data to account's device on the raw connection phone through
    relay's API: phone gets it from @backend and acknowledges it, and the
    call, which waits for that, answers delivered."""
    import hfwire
    call = in_background(relay.api, "POST", "/v1/accounts/%s/messages" % account, {"to": "phone", "data": data})
    got = phone.expect(hfwire.DELIVER)
    assert (got["payload"], got["from"]) == (data.encode(), "@backend"), got
    phone.send(hfwire.DELIVER_ACK, [("upto", got["seq"])])
    status, body = call()
    assert (status, body["status"]) == (200, "delivered"), body


def kill_and_rehome(alloc, s1, s2, sender):
    """Kills s1 (SIGKILL); sender, on s2, stores a message for alice/a,
    which was on s1; alice/a asks the allocator again, lands on s2 and
    gets it from the shared store."""
    import hfwire
    s1.stop(signal.SIGKILL)
    sender.send(hfwire.SEND, [("to", "a"), ("id", 2), ("payload", b"while you were away")])
    assert sender.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    wait_until(lambda: "server s1" in alloc.log() and "left out" in alloc.log(), 5, "s1 dropped")
    code, out, err = alloc.cli(alloc.token("alice", "a"), "listen", "--count", "1", "--timeout", "15")
    assert (code, out) == (0, "while you were away\n"), (code, out, err)
    assert "alice/a online" in s2.log()


def finish_background(proc, timeout=20):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def sanitizer_report(log):
    """The first sanitizer finding in a daemon log, or ''."""
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        at = log.find(marker)
        if at >= 0:
            return log[max(0, at - 200):at + 3000]
    return ""


class Skip(Exception):
    """A test that cannot run in this build or on this machine raises it,
    saying why; it is counted as skipped, never as passed."""


def run(tests):
    """Runs every test_* function of a module in order; HF_TESTS (words,
    comma-separated) runs only the tests whose names hold one of them."""
    passed = failed = skipped = 0
    only = [w for w in os.environ.get("HF_TESTS", "").split(",") if w]
    for name, fn in tests.items():
        if not name.startswith("test_") or not callable(fn):
            continue
        if only and not any(w in name for w in only):
            continue
        Relay.relays = []
        failed_before = failed
        RedisServer.servers = []
        start = time.monotonic()
        try:
            fn()
            # A clean stop lets a sanitizer build report leaks at exit.
            for relay in Relay.relays:
                relay.stop()
                report = sanitizer_report(relay.log())
                assert not report, "sanitizer report:\n" + report
            passed += 1
            print("ok   %s (%.1fs)" % (name, time.monotonic() - start), flush=True)
            # A passing test's folders go (its stores reserve their maps on
            # disk); a failing one's stay for its logs.
            for relay in Relay.relays:
                shutil.rmtree(relay.dir, ignore_errors=True)
        except Skip as why:
            skipped += 1
            print("skip %s: %s" % (name, why), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % name, flush=True)
            traceback.print_exc()
            for relay in Relay.relays:
                print("---- handoffd log (%s) ----" % relay.dir)
                print(relay.log()[-6000:])
        finally:
            for relay in Relay.relays:
                if relay.proc and relay.proc.poll() is None:
                    relay.proc.kill()
                    relay.proc.wait()
            for redis in RedisServer.servers:
                redis.stop()
            for fs in FaultFS.mounts:
                fs.stop()
                if failed == failed_before:
                    shutil.rmtree(fs.dir, ignore_errors=True)
            FaultFS.mounts = []
    for cluster in RedisCluster.clusters:
        cluster.stop()
    print("%d passed, %d failed" % (passed, failed) + (", %d skipped" % skipped if skipped else ""))
    sys.exit(1 if failed else 0)
