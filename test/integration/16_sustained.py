"""16: sustained traffic: what the store keeps per message comes back once
it is acknowledged, and a store that does fill up recovers by itself."""
import json
import os
import subprocess

import harness
import hfwire
from harness import Relay

BENCH = os.path.join(harness.BUILDDIR, "bench", "handoff-bench")
# As bench/run sets them: the bench sends as fast as acknowledgements allow.
FAST = {"limits.frame_rate": 10000000, "limits.frame_burst": 10000000, "limits.send_rate": 10000000,
        "limits.send_burst": 10000000, "delivery.window": 1000}


def test_two_million_messages_through_a_64m_store():
    """Before de-duplication kept a record per sender and target, each
    message left about 116 bytes for delivery.dedup_window (1 h): a 64 MiB
    map was full after about 550,000 messages. A sanitizer build, some
    five times slower, sends fewer and checks the same."""
    count = 300000 if harness.SANITIZED else 2000000
    relay = Relay(**{"store.module": "lmdb", "store.map_size": "64m", **FAST}).start()
    out = subprocess.run([BENCH, "pairs", "--server", relay.address(), "--ca", relay.ca, "--secret-file",
                          relay.secret_file, "--pairs", "1", "--size", "256", "--count", str(count),
                          "--window", "1000", "--timeout", "900"], capture_output=True, text=True, timeout=1000)
    report = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
    assert report["delivered"] == count and report["rejected"] == 0, (report, out.stderr[-2000:])
    assert relay.metric('handoff_messages_rejected_total{reason="store_full"}') == 0
    assert relay.metric('handoff_messages_rejected_total{reason="internal"}') == 0


def test_a_full_store_refuses_with_retry_ms_and_recovers():
    relay = Relay(**{"store.module": "lmdb", "store.map_size": "1m", "delivery.store_retry": "250ms",
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
    assert seqs == sorted(seqs) and len(set(seqs)) == backlog
    # The refused message, sent again after retry_ms, is taken.
    def taken():
        pc.send(hfwire.SEND, [("to", "tablet"), ("id", full["id"]), ("payload", payload)])
        return pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED
    harness.wait_until(taken, 10, "the store to take messages again")
    assert "senders get store_full" in relay.log()


if __name__ == "__main__":
    harness.run(dict(globals()))
