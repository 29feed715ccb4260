#!/usr/bin/env python3
"""Wake-ups under many sleeping devices (docs/wake.md): how many wake-ups
go out against how many messages are stored, through the FCM stand-in
(test/wake/fcm_standin.mjs) on loopback.

coalescing: --devices devices, none connected, each with an FCM route;
--rounds messages to each, round after round, as fast as the API takes
them. With wake.min_interval 30 s, each device should get one wake-up,
and every other message be coalesced.

rate cap: a fifth of the devices, wake.min_interval 1 s, wake.burst 2, a
message to each every 1.1 s for 4 rounds: the first two rounds wake
(the burst), the next two are past wake.rate (60 an hour) and are not
sent.

Prints a table and one JSON line; reports, never fails (exit 0 unless
the harness breaks).

    bench/wake.py [--devices N] [--rounds R] [--build DIR]
"""

import argparse
import http.client
import importlib.util
import json
import os
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Api:
    """The relay's HTTP API on one kept-alive TLS connection."""

    def __init__(self, relay):
        context = ssl.create_default_context(cafile=relay.ca)
        self.conn = http.client.HTTPSConnection("127.0.0.1", relay.api_port, context=context, timeout=20)
        with open(relay.api_secret) as f:
            self.headers = {"Authorization": "Bearer " + f.read().strip(), "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=self.headers)
        answer = self.conn.getresponse()
        data = answer.read()
        assert answer.status < 300, (path, answer.status, data)
        return json.loads(data)


def counters(relay):
    def value(series):
        return relay.metric(series) or 0
    return {"sent": value('handoff_wakeups_total{provider="fcm",outcome="sent"}'),
            "rate_limited": value('handoff_wakeups_total{provider="fcm",outcome="rate_limited"}'),
            "failed": value('handoff_wakeups_total{provider="fcm",outcome="failed"}'),
            "retry": value('handoff_wakeups_total{provider="fcm",outcome="retry"}'),
            "coalesced": value("handoff_wakeups_coalesced_total")}


def sleeping_devices(wake, relay, api, count):
    """count devices that connected once (so the account has them) and
    left, each with an FCM route."""
    harness = wake.harness
    names = ["d%04d" % i for i in range(count)]
    for name in names:
        conn = relay.conn()
        conn.send(wake.hfwire.HELLO, [("token", relay.token("alice", name))])
        assert conn.recv(timeout=10)[0] == wake.hfwire.WELCOME
        conn.close()
    for name in names:
        api.call("PUT", "/v1/accounts/alice/devices/%s/wake" % name, {"fcm": {"token": "ok-" + name}})
    harness.wait_until(lambda: relay.metric("handoff_online_devices") == 0, 10, "every device to have left")
    return names


def run(wake, rounds, devices, pause_s, **settings):
    # The API sends as fast as it takes them: no api.rate here.
    relay, fcm, apns = wake.provider_relay(**{"api.rate": 1000000, "api.burst": 1000000}, **settings)
    try:
        api = Api(relay)
        names = sleeping_devices(wake, relay, api, devices)
        started = time.monotonic()
        for r in range(rounds):
            if r and pause_s:
                time.sleep(pause_s)
            for name in names:
                api.call("POST", "/v1/accounts/alice/messages", {"to": name, "data": "message %d" % r})
        stored = rounds * devices
        # The answers come back as they come: settled once nothing moves.
        last, still = None, 0
        while still < 10:
            time.sleep(0.1)
            now = counters(relay)
            still = still + 1 if now == last else 0
            last = now
        last["stored"] = stored
        last["devices"] = devices
        last["seconds"] = round(time.monotonic() - started, 2)
        last["received"] = len([r for r in fcm.requests() if r["path"] != "/token"])
        return last
    finally:
        relay.stop()
        fcm.stop()
        apns.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = parser.parse_args()
    os.environ["HF_BUILDDIR"] = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
    spec = importlib.util.spec_from_file_location("wake", os.path.join(HERE, "..", "test", "integration",
                                                                       "29_wake.py"))
    wake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wake)

    coalescing = run(wake, args.rounds, args.devices, 0)
    capped = run(wake, 4, max(1, args.devices // 5), 1.1,
                 **{"wake.min_interval": "1s", "wake.burst": 2, "wake.rate": 60})
    print("%-11s %8s %8s %8s %10s %12s %8s %8s" % ("phase", "devices", "stored", "sent", "coalesced", "rate_limited",
                                                    "received", "seconds"))
    for name, r in (("coalescing", coalescing), ("rate cap", capped)):
        print("%-11s %8d %8d %8d %10d %12d %8d %8.2f" % (name, r["devices"], r["stored"], r["sent"], r["coalesced"],
                                                         r["rate_limited"], r["received"], r["seconds"]))
    print(json.dumps({"scenario": "wake", "coalescing": coalescing, "rate_cap": capped}))


if __name__ == "__main__":
    main()
