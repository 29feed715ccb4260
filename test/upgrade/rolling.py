"""A rolling upgrade and its rollback, with messages flowing: an allocator
of this tree and two servers of the previous release on one Redis; each
server in turn is drained with `handoffctl drain --wait` and started from
this tree, then each is rolled back the same way. The nemesis's workload
(libhandoff devices that send, resend and acknowledge) runs throughout,
and its checker reads the history: nothing acknowledged may be lost,
shown twice or out of order. test/upgrade/run builds the previous release
and runs this with HF_OLD_BUILD set to its build folder."""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "integration"), os.path.join(HERE, "..", "nemesis")]

import checker  # noqa: E402
import harness  # noqa: E402
import hfwire  # noqa: E402
from harness import Relay, RedisServer  # noqa: E402

OLD = os.environ.get("HF_OLD_BUILD", "")
OLD_NAME = os.environ.get("HF_OLD_NAME", "the previous release")
ACCOUNTS = 20
DEVICES = ("pc", "phone", "tablet")


class History:
    """The driver's side of the history, on the workload's clock
    (CLOCK_MONOTONIC seconds, which time.monotonic reads)."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "w")

    def record(self, ev, **fields):
        self.file.write(json.dumps(dict(t=time.monotonic(), ev=ev, **fields)) + "\n")
        self.file.flush()


def run_as(server, build):
    """Makes server start from build's handoffd and modules."""
    server.handoffd = os.path.join(build, "handoffd")
    server.env = dict(os.environ, HANDOFF_MODULE_DIR=os.path.join(build, ".libs"))


def version_of(build):
    out = subprocess.run([os.path.join(build, "handoffd"), "--version"], capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()


def replace(alloc, server, build, history, what):
    """Drains server with handoffctl drain --wait and starts it from build."""
    started = time.monotonic()
    history.record("fault", name=what, targets=[server.server_id])
    registered = alloc.log().count("server %s registered at" % server.server_id)
    code, out, err = server.ctl("drain", "--wait")
    assert code == 0, (what, code, out, err)
    assert server.proc.wait(30) == 0, "%s: the drained server exited %s" % (what, server.proc.returncode)
    server.proc = None
    run_as(server, build)
    server.start()
    harness.wait_until(lambda: alloc.log().count("server %s registered at" % server.server_id) > registered, 10,
                       "%s registered again" % server.server_id)
    harness.wait_until(lambda: server.probe("/readyz")[0] == 200, 10, "%s ready" % server.server_id)
    history.record("recovered", name=what, recovered_s=round(time.monotonic() - started, 1))
    time.sleep(3)  # messages through the mixed cluster


def test_a_rolling_upgrade_and_its_rollback_lose_nothing():
    assert OLD and os.path.exists(os.path.join(OLD, "handoffd")), "HF_OLD_BUILD names no build: use test/upgrade/run"
    new = harness.BUILDDIR
    print("  from %s (%s) to this tree (%s) and back" % (OLD_NAME, version_of(OLD), version_of(new)), flush=True)
    redis = RedisServer().start()
    fast = {"allocator.refresh_interval": "300ms", "allocator.backoff_base": "100ms",
            "allocator.backoff_cap": "500ms"}
    alloc = Relay("allocator", server_id="a1", **fast).start()
    servers = []
    for sid in ("s1", "s2"):
        s = Relay("server", share=alloc, server_id=sid, api_keys=True,
                  **{"register.allocators": ["127.0.0.1:%d" % alloc.alloc_port], "store.module": "redis",
                     "store.address": redis.address(), "store.prefix": "upgrade:", "log.level": "info"}, **fast)
        run_as(s, OLD)
        servers.append(s.start())
    for s in servers:
        harness.wait_until(lambda: "server %s registered" % s.server_id in alloc.log(), 10, "registered")
        harness.wait_until(lambda: s.probe("/readyz")[0] == 200, 10, "%s ready" % s.server_id)

    devices = os.path.join(alloc.dir, "devices")
    with open(alloc.secret_file) as f:
        secret = f.read().strip()
    with open(devices, "w") as f:
        for i in range(ACCOUNTS):
            for d in DEVICES:
                f.write("acct%d %s %s\n" % (i, d, hfwire.mint_token(secret, "acct%d" % i, d, int(time.time()) + 3600)))
    history = History(os.path.join(alloc.dir, "driver.jsonl"))
    stop_file = os.path.join(alloc.dir, "stop-sending")
    workload_history = os.path.join(alloc.dir, "workload.jsonl")
    workload = subprocess.Popen(
        [os.path.join(new, "test", "nemesis", "workload"), "--allocators", "127.0.0.1:%d" % alloc.alloc_port,
         "--ca", alloc.ca, "--devices", devices, "--history", workload_history, "--seconds", "300",
         "--rate", "100", "--quiet", "3", "--drain", "60", "--stop-file", stop_file],
        stdout=open(os.path.join(alloc.dir, "workload.log"), "w"), stderr=subprocess.STDOUT,
        env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(new, ".libs")))
    try:
        time.sleep(4)  # every device connected, messages flowing between old servers
        for s in servers:
            replace(alloc, s, new, history, "upgrade %s to this tree" % s.server_id)
        for s in servers:
            replace(alloc, s, OLD, history, "roll %s back" % s.server_id)
        open(stop_file, "w").close()
        assert workload.wait(timeout=120) == 0, "the workload exited %s" % workload.returncode
    finally:
        if workload.poll() is None:
            workload.kill()
        history.file.close()
    events = checker.load([history.path, workload_history])
    result, examples = checker.check(events)
    for r in checker.per_fault(events):
        print("  %-36s %6d acknowledged, back in %ss" % (r["fault"], r["acknowledged"], r["recovered_s"]))
    print("  " + json.dumps({"scenario": "rolling upgrade", **result}))
    assert result["acknowledged"] > 0, "nothing acknowledged: the workload did not run"
    assert all(r["acknowledged"] > 0 for r in checker.per_fault(events)), "a step with no message acknowledged"
    wrong = {k: v for k, v in result.items() if k != "acknowledged" and v}
    assert not wrong, "%s: %s" % (wrong, examples)


if __name__ == "__main__":
    harness.run(dict(globals()))
