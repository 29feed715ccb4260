#!/usr/bin/env python3
"""Power cuts under load against the LMDB store, on test/faultfs (FUSE).

Each round: handoffd (sync = batch) on a faultfs mount whose fsync takes
--fsync-delay ms, two senders keep it busy with 3 KB messages, and after
a random 0.1-0.6 s the power is cut: a random part of the pages not yet
synced reached the disk (faultfs cut-random), the rest is lost, and the
disk is gone. The daemon is killed, the filesystem mounted again, the
daemon started: does the store open, and are the messages it
acknowledged there? Prints a table and one JSON line; reports, never
fails (exit 0 unless the harness itself breaks).

    bench/powercut.py [--cuts N] [--seed S] [--fsync-delay MS] [--build DIR]
"""

import argparse
import json
import os
import random
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cuts", type=int, default=100)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--fsync-delay", type=int, default=20)
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = parser.parse_args()
    os.environ["HF_BUILDDIR"] = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
    import importlib.util
    import harness
    spec = importlib.util.spec_from_file_location("faults", os.path.join(HERE, "..", "test", "integration",
                                                                         "23_faults.py"))
    faults = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(faults)

    rng = random.Random(args.seed)
    result = {"scenario": "powercut", "seed": args.seed, "fsync_delay_ms": args.fsync_delay, "cuts": 0,
              "acknowledged": 0, "lost": 0, "reopened": 0, "failed_opens": 0, "first_failure": None}
    fs = harness.FaultFS().start()
    fs.command("fsync-delay %d" % args.fsync_delay)
    relay = faults.relay_on(fs).start()
    next_id = 1
    try:
        for _ in range(args.cuts):
            acknowledged, next_id = faults.cut_under_load(relay, fs, rng, next_id)
            result["cuts"] += 1
            try:
                relay.start()
            except AssertionError:
                result["failed_opens"] += 1
                result["first_failure"] = relay.log().strip().splitlines()[-1]
                break  # the store is gone: no later round means anything
            result["reopened"] += 1
            got = set(faults.drain_phone(relay))
            result["acknowledged"] += len(acknowledged)
            result["lost"] += len(set(acknowledged) - got)
            fs.command("fsync-delay %d" % args.fsync_delay)
    finally:
        if relay.proc:
            relay.stop(signal.SIGKILL)
        for mount in harness.FaultFS.mounts:
            mount.stop()
    print("%-34s %s" % ("power cuts", result["cuts"]))
    print("%-34s %s" % ("seed", result["seed"]))
    print("%-34s %s ms" % ("fsync takes", result["fsync_delay_ms"]))
    print("%-34s %s" % ("messages acknowledged before them", result["acknowledged"]))
    print("%-34s %s" % ("acknowledged and lost", result["lost"]))
    print("%-34s %s" % ("store opened again", result["reopened"]))
    print("%-34s %s" % ("store did not open", result["failed_opens"]))
    if result["first_failure"]:
        print("%-34s %s" % ("first failure", result["first_failure"]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
