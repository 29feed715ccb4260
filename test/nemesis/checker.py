"""Reads a nemesis history (JSON lines from the workload and the driver,
one clock: CLOCK_MONOTONIC seconds) and says what went wrong:

  lost               a message answered stored or delivered (a device's
                     SEND_ACK, or the API's 200) that one of its targets
                     never showed its application;
  shown_twice        an application shown the same message again (each
                     payload is unique);
  out_of_order       a message shown after a later one of the same sender
                     to the same target (payloads count up per stream);
  revoked_delivered  a message shown to a device after its revocation
                     completed (the API's 200);
  unexpected         a message shown that nobody sent.

A revoked device's messages are not counted lost: its revocation purges
its queue. Payloads are "<account>|<from>|<to>|<n>"; a "*" message's
targets are the account's other devices that had connected before it was
sent (a device is one of its account's from its first HELLO).
"""

import collections
import json


def load(paths):
    events = []
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        events.append(json.loads(line))
                    except ValueError:
                        pass  # a line cut by a kill -9 of the writer
    events.sort(key=lambda e: e["t"])
    return events


def check(events):
    devices = collections.defaultdict(set)  # account -> its device names
    sent = {}  # (account, device, id) -> payload
    sent_at = {}  # payload -> when
    first_connected = {}  # (account, device) -> when it first connected
    acknowledged = []  # payloads
    shown = collections.defaultdict(list)  # (account, device) -> [(t, payload)]
    revoked = {}  # (account, device) -> when the revocation completed
    every_payload = set()
    for e in events:
        ev = e["ev"]
        if ev in ("send", "deliver", "state", "end"):
            devices[e["account"]].add(e["device"])
        if ev == "state" and e["state"] == "connected":
            first_connected.setdefault((e["account"], e["device"]), e["t"])
        if ev == "send":
            sent[(e["account"], e["device"], e["id"])] = e["payload"]
            sent_at[e["payload"]] = e["t"]
            every_payload.add(e["payload"])
        elif ev == "send_ack" and e["status"] in ("stored", "delivered"):
            payload = sent.get((e["account"], e["device"], e["id"]))
            if payload:
                acknowledged.append(payload)
        elif ev == "api_send":
            every_payload.add(e["payload"])
        elif ev == "api_ack" and e.get("status") in ("stored", "delivered"):
            acknowledged.append(e["payload"])
        elif ev == "deliver":
            shown[(e["account"], e["device"])].append((e["t"], e["payload"]))
        elif ev == "revoked":
            revoked[(e["account"], e["device"])] = e["t"]
    result = {"acknowledged": len(acknowledged), "lost": 0, "shown_twice": 0, "out_of_order": 0,
              "revoked_delivered": 0, "unexpected": 0}
    examples = collections.defaultdict(list)

    def note(kind, what):
        result[kind] += 1
        if len(examples[kind]) < 5:
            examples[kind].append(what)

    seen = {key: set(p for _, p in got) for key, got in shown.items()}
    for payload in acknowledged:
        account, sender, to, _ = payload.split("|")
        targets = [to] if to != "*" else sorted(
            d for d in devices[account] - {sender}
            if first_connected.get((account, d), float("inf")) < sent_at.get(payload, float("inf")))
        for target in targets:
            if (account, target) in revoked:
                continue
            if payload not in seen.get((account, target), ()):
                note("lost", "%s never shown to %s" % (payload, target))
    for (account, device), got in shown.items():
        counts = collections.Counter(p for _, p in got)
        for payload, n in counts.items():
            if n > 1:
                note("shown_twice", "%s shown %d times to %s" % (payload, n, device))
            if payload not in every_payload:
                note("unexpected", "%s shown to %s" % (payload, device))
        last = {}
        for t, payload in got:
            _, sender, to, n = payload.split("|")
            stream = (sender, to)
            if int(n) < last.get(stream, 0):
                note("out_of_order", "%s shown to %s after n=%d" % (payload, device, last[stream]))
            last[stream] = max(last.get(stream, 0), int(n))
            if (account, device) in revoked and t > revoked[(account, device)]:
                note("revoked_delivered", "%s shown to %s/%s after its revocation" % (payload, account, device))
    return result, dict(examples)


def per_fault(events):
    """Rows of a table: per fault, from its start to the next fault's,
    the sends acknowledged and rejected (by reason) and the targets'
    /readyz samples."""
    faults = [e for e in events if e["ev"] == "fault"]
    rows = []
    for i, f in enumerate(faults):
        end = faults[i + 1]["t"] if i + 1 < len(faults) else float("inf")
        window = [e for e in events if f["t"] <= e["t"] < end]
        acked = sum(1 for e in window if e["ev"] == "send_ack" and e["status"] in ("stored", "delivered"))
        rejected = collections.Counter(e["code"] for e in window if e["ev"] == "send_ack" and e["status"] == "rejected")
        samples = collections.Counter(str(e["status"]) for e in window
                                      if e["ev"] == "readyz" and e["server"] in f.get("targets", []))
        recovered = next((e for e in window if e["ev"] == "recovered"), {})
        rows.append({"fault": f["name"], "targets": f.get("targets", []), "held_s": recovered.get("held_s"),
                     "recovered_s": recovered.get("recovered_s"), "acknowledged": acked,
                     "rejected": dict(rejected), "readyz": dict(samples)})
    return rows
