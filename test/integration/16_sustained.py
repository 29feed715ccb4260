"""16: sustained traffic: what the store keeps per message comes back once
it is acknowledged, and a store that does fill up recovers by itself."""
import json
import os
import re
import subprocess
import time

import harness
import hfwire
from harness import Relay

BENCH = os.path.join(harness.BUILDDIR, "bench", "handoff-bench")
# As bench/run sets them: the bench sends as fast as acknowledgements allow.
FAST = {"limits.frame_rate": 10000000, "limits.frame_burst": 10000000, "limits.send_rate": 10000000,
        "limits.send_burst": 10000000, "delivery.window": 1000}


def bench_pair(relay, count):
    out = subprocess.run([BENCH, "pairs", "--server", relay.address(), "--ca", relay.ca, "--secret-file",
                          relay.secret_file, "--pairs", "1", "--size", "256", "--count", str(count),
                          "--window", "1000", "--timeout", "900"], capture_output=True, text=True, timeout=1000)
    report = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
    assert report["delivered"] == count and report["rejected"] == 0, (report, out.stderr[-2000:])


def test_two_million_messages_through_a_64m_store():
    """Before de-duplication kept a record per sender and target, each
    message left about 116 bytes for delivery.dedup_window (1 h): a 64 MiB
    map was full after 585,754 messages. A sanitizer build, some
    five times slower, sends fewer and checks the same."""
    count = 300000 if harness.SANITIZED else 2000000
    relay = Relay(**{"store.module": "lmdb", "store.map_size": "64m", **FAST}).start()
    bench_pair(relay, count)
    assert relay.metric('handoff_messages_rejected_total{reason="store_full"}') == 0
    assert relay.metric('handoff_messages_rejected_total{reason="internal"}') == 0


def redis_keys_by_run(redis):
    """The Redis store's keys grouped by bench run (each run is an account
    of its own: b<time>-<pid>), the run's name taken out. Presence is
    left out: it is cleared as devices go, a moment after a run ends."""
    out = subprocess.run(["redis-cli", "-p", str(redis.port), "--scan"], capture_output=True, text=True, check=True)
    runs = {}
    for key in out.stdout.split():
        run = re.search(r"b\d+-\d+", key)
        if run and ":p:" not in key:
            runs.setdefault(run.group(0), []).append(key.replace(run.group(0), "RUN"))
    return {run: sorted(keys) for run, keys in runs.items()}


def test_redis_keeps_no_key_per_acknowledged_message():
    """The Redis store kept a key per (sender, id) for the dedup window,
    about 10 GB an hour at 30,000 msgs/s. Now what is left once messages
    are acknowledged does not depend on how many there were: a pair that
    sent 2,000 leaves the same keys as one that sent 20,000."""
    relay = Relay(**{"store.module": "redis", **FAST}).start()
    redis = harness.RedisServer.servers[0]
    bench_pair(relay, 2000)
    time.sleep(1.1)  # a second run id (b<time>-<pid>) even if the pid repeats
    bench_pair(relay, 20000)
    runs = list(redis_keys_by_run(redis).values())
    assert len(runs) == 2 and runs[0] == runs[1] and len(runs[0]) < 20, runs


def test_a_full_store_refuses_with_retry_ms_and_recovers():
    # A long sync interval: the window of uncommitted writes spans many
    # passes, so acknowledgements and refused sends meet in one.
    relay = Relay(**{"store.module": "lmdb", "store.map_size": "1m", "store.sync_interval": "200ms",
                     "delivery.store_retry": "250ms",
                     "limits.queue_max_bytes": "64m"}).start()
    pc = relay.conn()
    pc.hello(relay.quick_token("alice", "pc"))
    payload = os.urandom(8000)
    # A backlog for a phone that is away, until the map is full.
    full = None
    for msg_id in range(1, 400):
        pc.send(hfwire.SEND, [("to", "phone"), ("id", msg_id), ("payload", payload)])
        ack = pc.expect(hfwire.SEND_ACK)
        if ack["status"] == hfwire.REJECTED:
            full = ack
            break
        assert ack["status"] == hfwire.STORED, ack
    assert full, "1 MiB took 400 messages of 8 kB"
    assert full["code"] == hfwire.ERR["store_full"] and full["retry_ms"] == 250, full
    backlog = full["id"] - 1
    # Nothing acknowledged was lost: the phone gets the whole backlog, and
    # as it acknowledges, the space comes back.
    phone = relay.conn()
    phone.hello(relay.quick_token("alice", "phone"))
    seqs = []
    while len(seqs) < backlog:
        msg = phone.expect(hfwire.DELIVER)
        assert msg["payload"] == payload, msg
        seqs.append(msg["seq"])
        phone.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
        # While the store is still full, sends it refuses in the same
        # window as the acknowledgements: those must not be lost with
        # them, or the store would never have room again.
        if len(seqs) <= 10:
            pc.send(hfwire.SEND, [("to", "tablet"), ("id", 1000 + len(seqs)), ("payload", payload)])
            assert pc.expect(hfwire.SEND_ACK)["status"] in (hfwire.STORED, hfwire.REJECTED)
    assert seqs == sorted(seqs) and len(set(seqs)) == backlog
    # The refused message, sent again after retry_ms, is taken.
    def taken():
        pc.send(hfwire.SEND, [("to", "laptop"), ("id", full["id"]), ("payload", payload)])
        return pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    harness.wait_until(taken, 10, "the store to take messages again")
    assert "senders get store_full" in relay.log()


if __name__ == "__main__":
    harness.run(dict(globals()))
