#!/usr/bin/env python3
"""The cluster under a fault schedule (test/nemesis/README.md).

Two allocators, three servers and a Redis Cluster of three primaries with
a replica each, every one in a network namespace of its own
(netns.py); 200 accounts of three devices each on libhandoff (workload),
API sends and a revocation from here; a nemesis that injects one fault
at a time, in an order the seed makes; a history of everything, which
checker.py reads. Prints a table per fault and one JSON line; exits 1 if
anything acknowledged was lost, shown twice or out of order, or reached
a revoked device, or if /readyz disagreed with the faults.

    nemesis.py [--build DIR] [--short] [--seed N] [--minutes M] [--keep DIR] [--only TEXT] [--skip-open]
               [--store redis|lmdb] [--faketime-build DIR]

Needs root (namespaces, a bridge), redis-server, redis-cli and openssl.
"""

import argparse
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRCDIR, "test", "integration"))

import hfwire  # noqa: E402  (tokens, minted as the daemon checks them)
import checker  # noqa: E402
import netns  # noqa: E402
from netns import Host  # noqa: E402

ALLOCATORS = [Host("a1", 11), Host("a2", 12)]
SERVERS = [Host("s1", 21), Host("s2", 22), Host("s3", 23)]
REDIS = [Host("r%d" % i, 30 + i) for i in range(1, 7)]
HOSTS = ALLOCATORS + SERVERS + REDIS
ALLOC_PORT, DEVICE_PORT, API_PORT, METRICS_PORT, REDIS_PORT = 7400, 7401, 7443, 9100, 6379
CLOCK_FAULT = "step a server's wall clock an hour ahead"
CLOCK_HOST = SERVERS[2]  # the server whose wall clock steps, with --faketime-build
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
# Faults whose findings are open (docs/faults.md), by name, with where
# they are written up: --skip-open leaves them out (tools/check does, until
# they are fixed); the full run keeps them.
OPEN = {}
ACCOUNTS = 200
DEVICES = ("pc", "phone", "tablet")
REVOKED = ("acct7", "tablet")
HEARTBEAT_TIMEOUT_S = 4  # interval 2 s, 150 %, grace 1 s
NODE_TIMEOUT_MS = 2000  # cluster-node-timeout


class Run:
    """What one run made: its folder, the processes, the history."""

    def __init__(self, work, build):
        self.work, self.build = work, build
        self.procs = {}  # host name -> Popen
        self.history = open(os.path.join(work, "driver.jsonl"), "w")
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.api_n = 0
        self.faketime_build = None  # --faketime-build
        self.store = "redis"  # --store

    def record(self, ev, at=None, **fields):
        """An event of the history, at time at (default now)."""
        t = round(time.monotonic() if at is None else at, 3)
        with self.lock:
            self.history.write(json.dumps(dict(t=t, ev=ev, **fields)) + "\n")
            self.history.flush()

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    # ---- processes -------------------------------------------------------

    def start(self, host, argv, ready=None, timeout=20):
        log = open(self.path(host.name + ".log"), "a")
        self.procs[host.name] = subprocess.Popen(host.run(*argv), stdout=log, stderr=subprocess.STDOUT)
        if ready:
            wait_until(lambda: ready in self.log(host), timeout, "%s: %s" % (host.name, ready))

    def log(self, host):
        with open(self.path(host.name + ".log"), errors="replace") as f:
            return f.read()

    def alive(self, host):
        p = self.procs.get(host.name)
        return p is not None and p.poll() is None

    def signal(self, host, sig):
        p = self.procs.get(host.name)
        if p and p.poll() is None:
            p.send_signal(sig)
            if sig == signal.SIGKILL:
                p.wait(10)

    def stop_all(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(10)


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


# ---- setup -----------------------------------------------------------------

def make_certificates(run):
    """A CA and one certificate every node presents, naming every host's
    address (docs/operations.md makes one per node; one serves here)."""
    names = ",".join("IP:" + h.ip for h in HOSTS)
    ext = run.path("ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                "extendedKeyUsage=serverAuth,clientAuth\n" % names)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for argv in (["openssl", "req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                                                       "-subj", "/CN=handoff nemesis CA"],
                 ["openssl", "req"] + ec + ["-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=handoff nemesis"],
                 ["openssl", "x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                  "-CAcreateserial", "-out", "node.pem", "-days", "2", "-extfile", ext]):
        subprocess.run(argv, cwd=run.work, check=True, capture_output=True)
    for name in ["token.secret", "api.secret"] + [s.name + ".key" for s in SERVERS]:
        with open(run.path(name), "w") as f:
            f.write(os.urandom(24).hex() + "\n")
        os.chmod(run.path(name), 0o600)


def start_redis(run, host):
    folder = run.path("redis-" + host.name)
    os.makedirs(folder, exist_ok=True)
    run.start(host, ["redis-server", "--bind", host.ip, "--port", str(REDIS_PORT), "--dir", folder,
                     "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--appendonly", "yes",
                     "--appendfsync", "everysec", "--save", "", "--protected-mode", "no"],
              ready="Ready to accept connections")


def redis_cli(host, *args, timeout=10):
    out = subprocess.run(["redis-cli", "-h", host.ip, "-p", str(REDIS_PORT)] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=timeout)
    return out.stdout


def primaries():
    """The Redis hosts that are primaries with slots, as a live node sees it."""
    for h in REDIS:
        try:
            lines = redis_cli(h, "CLUSTER", "NODES", timeout=2).splitlines()
        except subprocess.TimeoutExpired:
            continue
        if lines:
            found = []
            for line in lines:
                f = line.split()
                if "master" in f[2] and "fail" not in f[2] and len(f) > 8:
                    ip = f[1].split(":")[0]
                    found.extend(r for r in REDIS if r.ip == ip)
            if found:
                return found
    return []


def cluster_ok(run):
    """Every live node says ok, three primaries serve every slot, and each
    has a replica in sync (store.replicas = 1 needs one)."""
    live = [h for h in REDIS if run.alive(h)]
    for h in live:
        if "cluster_state:ok" not in redis_cli(h, "CLUSTER", "INFO", timeout=2):
            return False
    ps = primaries()
    return len(ps) == 3 and all("state=online" in redis_cli(p, "INFO", "replication", timeout=2) for p in ps)


def handoffd_config(run, host, role):
    lines = [
        'role = "%s";' % role, 'server_id = "%s";' % host.name,
        'tls = { certificate = "%s"; key = "%s"; };' % (run.path("node.pem"), run.path("node.key")),
        'tokens = { keys = ( { id = "k1"; secret_file = "%s"; } ); };' % run.path("token.secret"),
        'metrics = { listen = "%s:%d"; };' % (host.ip, METRICS_PORT),
        'log = { level = "info"; };',
        'heartbeat = { module = "fixed"; interval = "2s"; grace = "1s"; };',
    ]
    if role == "allocator":
        ring = ", ".join('{ id = "%s"; secret_file = "%s"; }' % (s.name, run.path(s.name + ".key")) for s in SERVERS)
        lines += ['listen = { allocator = "%s:%d"; };' % (host.ip, ALLOC_PORT),
                  'cluster = { servers = ( %s ); max_weight = 500; };' % ring,
                  'allocator = { refresh_interval = "500ms"; backoff_base = "200ms"; backoff_cap = "2s"; };']
    else:
        allocators = ", ".join('"%s:%d"' % (a.ip, ALLOC_PORT) for a in ALLOCATORS)
        seeds = ",".join("%s:%d" % (r.ip, REDIS_PORT) for r in REDIS)
        if run.store == "lmdb":
            # A store of its own on a disk of its own, s1's map reserved at
            # open (store.preallocate, the default) and the others' grown as
            # written, so that a full disk refuses their sends. The API hands
            # calls for another server's account to it.
            store = ('store = { module = "lmdb"; path = "%s"; map_size = "48m"; preallocate = %s; };'
                     % (os.path.join(disk_of(run, host), "store"), "true" if host is SERVERS[0] else "false"))
            advertise = ' advertise = "https://%s:%d";' % (host.ip, API_PORT)
        else:
            store = 'store = { module = "redis"; cluster = "%s"; prefix = "nem:"; };' % seeds
            advertise = ""
        lines += ['listen = { device = "%s:%d"; api = "%s:%d"; };' % (host.ip, DEVICE_PORT, host.ip, API_PORT),
                  'cluster = { key_file = "%s"; };' % run.path(host.name + ".key"),
                  'register = { allocators = [ %s ]; ca = "%s"; };' % (allocators, run.path("ca.pem")), store,
                  'api = { keys = ( { id = "driver"; secret_file = "%s"; scope = "admin"; } );%s };'
                  % (run.path("api.secret"), advertise)]
    path = run.path(host.name + ".conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def disk_of(run, host):
    """A server's own small filesystem (tmpfs) for an LMDB store."""
    return run.path(host.name + "-disk")


def mount_disks(run):
    for s in SERVERS:
        os.makedirs(disk_of(run, s), exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "hfn-" + s.name, disk_of(run, s)], check=True)


def unmount_disks(run):
    for s in SERVERS:
        subprocess.run(["umount", "-l", disk_of(run, s)], capture_output=True)


def start_handoffd(run, host, role):
    conf = run.path(host.name + ".conf")
    build, env = run.build, []
    # The server whose clock steps runs under libfaketime, which cannot load
    # beside the plain build's jemalloc: from the sanitizer build, its wall
    # clock offset read from a file on every call.
    if host is CLOCK_HOST and run.faketime_build:
        build = run.faketime_build
        env = ["LD_PRELOAD=" + FAKETIME, "FAKETIME_TIMESTAMP_FILE=" + run.path("clock-offset"), "FAKETIME_NO_CACHE=1",
               "FAKETIME_DONT_FAKE_MONOTONIC=1", "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0"]
    run.start(host, ["env", "HANDOFF_MODULE_DIR=" + os.path.join(build, ".libs")] + env +
              [os.path.join(build, "handoffd"), "-f", "-c", conf], ready=" ready: ")


def readyz(host):
    try:
        with urllib.request.urlopen("http://%s:%d/readyz" % (host.ip, METRICS_PORT), timeout=0.4) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return "unreachable"


# ---- what runs beside the nemesis --------------------------------------

def api_request(run, host, method, path, body):
    ctx = ssl.create_default_context(cafile=run.path("ca.pem"))
    with open(run.path("api.secret")) as f:
        secret = f.read().strip()
    req = urllib.request.Request("https://%s:%d%s" % (host.ip, API_PORT, path), method=method,
                                 data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + secret, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=3, context=ctx) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}
    except (OSError, ValueError) as e:
        return "unreachable", {"error": str(e)[:60]}


def api_sender(run):
    """An application's backend: a message to some account's tablet every
    0.2 s, through the servers in turn."""
    n = 0
    while not run.stopping.is_set():
        n += 1
        account = "acct%d" % (n % ACCOUNTS)
        payload = "%s|api|tablet|%d" % (account, n)
        host = SERVERS[n % len(SERVERS)]
        run.record("api_send", payload=payload, server=host.name)
        status, body = api_request(run, host, "POST", "/v1/accounts/%s/messages" % account,
                                   {"to": "tablet", "data": payload})
        run.record("api_ack", payload=payload, http=status, status=body.get("status"))
        run.stopping.wait(0.2)


def readyz_sampler(run):
    while not run.stopping.is_set():
        for s in SERVERS:
            run.record("readyz", server=s.name, status=readyz(s))
        run.stopping.wait(0.5)


# ---- the nemesis ---------------------------------------------------------

def start_redis_cluster(run):
    for h in REDIS:
        start_redis(run, h)
    out = subprocess.run(["redis-cli", "--cluster", "create"] + ["%s:%d" % (h.ip, REDIS_PORT) for h in REDIS]
                         + ["--cluster-replicas", "1", "--cluster-yes"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("redis-cli --cluster create: " + out.stdout[-500:] + out.stderr[-500:])
    wait_until(lambda: cluster_ok(run), 60, "the Redis Cluster to be ok")


def recover(run, started):
    """Heals what a fault left: every process up, the Redis Cluster ok,
    every server ready. Returns how long it took."""
    for h in REDIS if run.store == "redis" else []:
        if not run.alive(h):
            start_redis(run, h)
    for h in ALLOCATORS:
        if not run.alive(h):
            start_handoffd(run, h, "allocator")
    for h in SERVERS:
        if not run.alive(h):
            start_handoffd(run, h, "server")
    if run.store == "redis":
        wait_until(lambda: cluster_ok(run), 60, "the Redis Cluster to be ok")
    wait_until(lambda: all(readyz(s) == 200 for s in SERVERS), 60, "every server ready")
    return round(time.monotonic() - started, 1)


def faults(rng, run_store):
    """Each fault: (name, inject(run) -> targets, heal(run, targets))."""
    def signal_one(hosts, sig):
        """Sends sig to one of hosts (a list, or a function that lists them)."""
        def inject(run):
            h = rng.choice(hosts() if callable(hosts) else hosts)
            run.signal(h, sig)
            return [h]
        return inject

    def resume(run, targets):
        for h in targets:
            run.signal(h, signal.SIGCONT)

    def restart(run, targets):
        pass  # recover() starts what is down

    def server_from_primary(run):
        s, p = rng.choice(SERVERS), rng.choice(primaries())
        netns.partition([s], [p])
        return [s, p]

    def server_from_allocators(run):
        s = rng.choice(SERVERS)
        netns.partition([s], ALLOCATORS)
        return [s]

    def server_alone(run):
        s = rng.choice(SERVERS)
        netns.isolate(s, HOSTS)
        return [s]

    def minority_primary(run):
        p = rng.choice(primaries())
        netns.partition([p], [r for r in REDIS if r is not p])
        return [p]

    def heal(run, targets):
        netns.heal(HOSTS)

    def fill_disk(run):
        """Fills a server's filesystem to the last byte."""
        s = rng.choice(SERVERS)
        with open(os.path.join(disk_of(run, s), "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        return [s]

    def empty_disk(run, targets):
        for s in targets:
            os.remove(os.path.join(disk_of(run, s), "filler"))

    # An hour ahead, and back when healed: inside the devices' token
    # lifetime (a day), so what may change is only what the clock drives.
    def step_clock(offset):
        """Sets the clock host's wall clock offset (libfaketime's file)."""
        def step(run, targets=None):
            with open(run.path("clock-offset"), "w") as f:
                f.write(offset + "\n")
            return [CLOCK_HOST]
        return step

    clock = [(CLOCK_FAULT, step_clock("+1h"), step_clock("+0"))]
    if run_store == "lmdb":
        # With stores of their own the allocators list the servers
        # (cluster.servers): an account stays with its server, and while
        # that is away its devices and API calls wait for it (N9).
        return [
            ("kill -9 a server", signal_one(SERVERS, signal.SIGKILL), restart),
            ("kill -9 an allocator", signal_one(ALLOCATORS, signal.SIGKILL), restart),
            ("SIGSTOP a server past the heartbeat timeout", signal_one(SERVERS, signal.SIGSTOP), resume),
            ("partition a server from the allocators", server_from_allocators, heal),
            ("partition a server from everything", server_alone, heal),
            ("fill an LMDB server's disk", fill_disk, empty_disk),
        ] + clock
    return [
        ("kill -9 a server", signal_one(SERVERS, signal.SIGKILL), restart),
        ("kill -9 an allocator", signal_one(ALLOCATORS, signal.SIGKILL), restart),
        ("kill -9 a Redis primary", signal_one(primaries, signal.SIGKILL), restart),
        ("SIGSTOP a server past the heartbeat timeout", signal_one(SERVERS, signal.SIGSTOP), resume),
        ("SIGSTOP a Redis primary past cluster-node-timeout", signal_one(primaries, signal.SIGSTOP), resume),
        ("partition a server from a Redis primary", server_from_primary, heal),
        ("partition a server from the allocators", server_from_allocators, heal),
        ("partition a server from everything", server_alone, heal),
        ("cut a Redis primary off from the other nodes", minority_primary, heal),
    ] + clock


def nemesis(run, rng, until, hold_s, only, skip_open, once):
    """Injects the faults in a shuffled order: once each (once), or again
    and again until `until`; returns their names in order."""
    order = [f for f in faults(rng, run.store) if only in f[0] and not (skip_open and f[0] in OPEN)
             and (run.faketime_build or f[0] != CLOCK_FAULT)]
    if not run.faketime_build:
        print("  left out: %s (needs --faketime-build: a build without jemalloc)" % CLOCK_FAULT, flush=True)
    if skip_open:
        for name, why in OPEN.items():
            print("  left out: %s (open: %s)" % (name, why), flush=True)
    if not order:
        raise RuntimeError("no fault's name holds %r" % only)
    rng.shuffle(order)
    done = []
    while True:
        for name, inject, heal in order:
            if time.monotonic() >= until and done:
                return done
            started = time.monotonic()
            targets = inject(run)
            names = [h.name for h in targets]
            # As of when it began: a /readyz sample taken while the fault
            # went in is the fault's (tools/check once saw a killed
            # server's "unreachable" 34 ms before a fault recorded after).
            # Until it is in place (applied), a target may still say 200:
            # tools/check saw s2 answer 3 ms into a partition going in.
            run.record("fault", at=started, name=name, targets=names, applied=round(time.monotonic(), 3))
            print("  %-52s %s" % (name, " ".join(names)), flush=True)
            time.sleep(hold_s)
            healing = time.monotonic()  # the same for the heal: a sample after it may say 200
            heal(run, targets)
            run.record("heal", at=healing, name=name, targets=names)
            recovered = recover(run, time.monotonic())
            run.record("recovered", name=name, targets=names, held_s=hold_s, recovered_s=recovered)
            done.append(name)
            time.sleep(1)  # a quiet second between faults, every server ready
        if once or time.monotonic() >= until:
            return done
        rng.shuffle(order)


# ---- the run -------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(SRCDIR, "build"))
    parser.add_argument("--short", action="store_true", help="every fault once: about 2 minutes")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", help="keep the run's folder (logs, history) here")
    parser.add_argument("--only", default="", help="only the faults whose name holds this")
    parser.add_argument("--store", choices=("redis", "lmdb"), default="redis",
                        help="the servers' store: a Redis Cluster, or LMDB each on a small disk of its own")
    parser.add_argument("--faketime-build", help="a build without jemalloc (the sanitizer build) for the server "
                        "whose clock steps under libfaketime; without it that fault is left out")
    parser.add_argument("--skip-open", action="store_true",
                        help="leave out the faults whose findings are open (docs/faults.md)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("nemesis: needs root (network namespaces and a bridge)")
    for tool in ("redis-server", "redis-cli", "openssl", "ip"):
        if not shutil.which(tool):
            sys.exit("nemesis: %s is missing (tools/deps.sh installs it)" % tool)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    build = os.path.abspath(args.build)
    work = args.keep or tempfile.mkdtemp(prefix="handoff-nemesis-")
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)  # a run starts from nothing
    os.makedirs(work, exist_ok=True)
    run = Run(work, build)
    run.store = args.store
    if args.faketime_build:
        if not os.path.exists(FAKETIME):
            sys.exit("nemesis: libfaketime is missing (tools/deps.sh installs faketime)")
        run.faketime_build = os.path.abspath(args.faketime_build)
        with open(run.path("clock-offset"), "w") as f:
            f.write("+0\n")
    print("== nemesis, seed %d, %s; history in %s" % (seed, "short" if args.short else "%g min" % args.minutes, work),
          flush=True)
    workload = None
    try:
        netns.make(HOSTS)
        make_certificates(run)
        if run.store == "lmdb":
            mount_disks(run)
        else:
            start_redis_cluster(run)
        for h in ALLOCATORS:
            handoffd_config(run, h, "allocator")
            start_handoffd(run, h, "allocator")
        for h in SERVERS:
            handoffd_config(run, h, "server")
            start_handoffd(run, h, "server")
        for a in ALLOCATORS:
            for s in SERVERS:
                wait_until(lambda: "server %s registered" % s.name in run.log(a), 20, s.name + " registered")
        with open(run.path("token.secret")) as f:
            secret = f.read().strip()
        with open(run.path("devices"), "w") as f:
            for i in range(ACCOUNTS):
                for d in DEVICES:
                    token = hfwire.mint_token(secret, "acct%d" % i, d, int(time.time()) + 86400)
                    f.write("acct%d %s %s\n" % (i, d, token))
        # --short: every fault once, however long that takes (a cap here);
        # the workload stops sending when the stop file appears.
        seconds = 600 if args.short else args.minutes * 60
        stop_file = run.path("stop-sending")
        workload = subprocess.Popen(
            [os.path.join(build, "test", "nemesis", "workload"), "--allocators",
             ",".join("%s:%d" % (a.ip, ALLOC_PORT) for a in ALLOCATORS), "--ca", run.path("ca.pem"),
             "--devices", run.path("devices"), "--history", run.path("workload.jsonl"),
             "--seconds", str(seconds + 10), "--rate", "200", "--quiet", "5", "--drain", "90",
             "--stop-file", stop_file],
            stdout=open(run.path("workload.log"), "w"), stderr=subprocess.STDOUT,
            env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(build, ".libs")))
        threads = [threading.Thread(target=f, args=(run,), daemon=True) for f in (api_sender, readyz_sampler)]
        for t in threads:
            t.start()
        time.sleep(5)  # every device connected, the first messages flowing
        until = time.monotonic() + seconds
        revoke_at = time.monotonic() + (40 if args.short else seconds / 2)
        revoker = threading.Timer(max(0, revoke_at - time.monotonic()), revoke, args=(run,))
        revoker.start()
        done = nemesis(run, rng, until, 6 if args.short else 12, args.only, args.skip_open, args.short)
        revoker.join()
        time.sleep(3)  # sends after the last fault's recovery
        open(stop_file, "w").close()
        run.stopping.set()
        for t in threads:
            t.join(10)
        workload.wait(timeout=150)
    finally:
        run.stopping.set()
        if workload and workload.poll() is None:
            workload.kill()
        run.stop_all()
        if run.store == "lmdb":
            unmount_disks(run)
        netns.remove()
        run.history.close()
    return report(run, seed, done, args.keep is None)


def revoke(run):
    account, device = REVOKED
    run.record("revoke", account=account, device=device)
    for _ in range(20):
        status, body = api_request(run, SERVERS[0], "POST", "/v1/accounts/%s/devices/%s/revoke" % REVOKED, {})
        if status == 200:
            run.record("revoked", account=account, device=device, purged=body.get("purged"))
            return
        time.sleep(0.5)
    run.record("revoke_failed", account=account, device=device)


def report(run, seed, done, remove_work):
    events = checker.load([run.path("driver.jsonl"), run.path("workload.jsonl")])
    result, examples = checker.check(events)
    rows = checker.per_fault(events)
    readyz_wrong = readyz_disagreements(events)
    print("%-52s %-8s %6s %9s %s" % ("FAULT", "TARGETS", "ACKED", "RECOVERY", "REJECTED / TARGETS' READYZ"))
    for r in rows:
        print("%-52s %-8s %6d %8ss %s / %s" % (r["fault"], ",".join(r["targets"]), r["acknowledged"],
                                               r["recovered_s"], r["rejected"] or "-", r["readyz"] or "-"))
    print("acknowledged %d, lost %d, shown twice %d, out of order %d, to a revoked device %d, unexpected %d, "
          "readyz disagreeing %d" % (result["acknowledged"], result["lost"], result["shown_twice"],
                                     result["out_of_order"], result["revoked_delivered"], result["unexpected"],
                                     len(readyz_wrong)))
    for kind, lines in examples.items():
        for line in lines:
            print("  %s: %s" % (kind, line))
    for line in readyz_wrong[:5]:
        print("  readyz: %s" % line)
    print(json.dumps({"scenario": "nemesis", "seed": seed, "faults": done, **result,
                      "readyz_disagreeing": len(readyz_wrong)}))
    bad = result["lost"] + result["shown_twice"] + result["out_of_order"] + result["revoked_delivered"] + \
        result["unexpected"] + len(readyz_wrong)
    if result["acknowledged"] == 0:
        print("nemesis: nothing was acknowledged: the workload did not run")
        bad += 1
    if not bad and remove_work:
        shutil.rmtree(run.work, ignore_errors=True)
    elif bad:
        print("nemesis: history and logs kept in %s" % run.work)
    return 1 if bad else 0


def readyz_disagreements(events):
    """/readyz against the faults: between a fault's recovery and the next
    fault every server says 200; and a server killed, paused or cut off
    from everything never says 200 once the fault is in place (applied)
    and while it holds."""
    wrong = []
    quiet, held, targets, name, applied = False, False, set(), "", 0.0
    for e in events:
        if e["ev"] == "fault":
            quiet, held, targets, name = False, True, set(e["targets"]), e["name"]
            applied = e.get("applied", e["t"])
        elif e["ev"] == "heal":
            held = False
        elif e["ev"] == "recovered":
            quiet = True
        elif e["ev"] == "readyz":
            if quiet and e["status"] != 200:
                wrong.append("%s said %s with no fault" % (e["server"], e["status"]))
            down = ("kill -9 a server" in name or "SIGSTOP a server" in name or "from everything" in name)
            if held and down and e["server"] in targets and e["status"] == 200 and e["t"] >= applied:
                wrong.append("%s said 200 during %s" % (e["server"], name))
    return wrong


if __name__ == "__main__":
    sys.exit(main())
