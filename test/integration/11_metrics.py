"""11: /metrics and /healthz: the counters move as messages flow."""

import calendar
import os
import re
import subprocess
import time
import urllib.request

import harness
import hfwire
from harness import Relay


def scrape(relay, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (relay.metrics_port, path), timeout=5) as r:
        return r.status, r.read().decode()


def test_counters_move_as_messages_flow():
    relay = Relay(**{"limits.queue_max_messages": 2}).start()
    assert scrape(relay, "/healthz") == (200, "ok\n")
    _, before = scrape(relay)
    assert "# TYPE handoff_messages_received_total counter" in before
    phone = relay.conn()
    phone.hello(relay.token("alice", "phone"))
    pc = relay.conn()
    pc.hello(relay.token("alice", "pc"))
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"x")])
    msg = phone.expect(hfwire.DELIVER)
    _, during = scrape(relay)
    assert harness.metric_value(during, "handoff_online_devices") == 2
    assert harness.metric_value(during, "handoff_deliveries_unacknowledged") == 1
    phone.send(hfwire.DELIVER_ACK, [("upto", msg["seq"])])
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.DELIVERED
    for i in (2, 3, 4):  # to the absent tablet: 2 stored, then queue_full
        pc.send(hfwire.SEND, [("to", "tablet"), ("id", i), ("payload", b"y")])
        pc.expect(hfwire.SEND_ACK)
    _, after = scrape(relay)
    assert harness.metric_value(after, "handoff_messages_received_total") == 4
    assert harness.metric_value(after, "handoff_messages_stored_total") == 3
    assert harness.metric_value(after, "handoff_messages_delivered_total") == 1
    assert harness.metric_value(after, 'handoff_messages_rejected_total{reason="queue_full"}') == 1
    assert harness.metric_value(after, 'handoff_store_seconds_count{op="enqueue"}') == 4
    assert harness.metric_value(after, 'handoff_store_seconds_count{op="fetch"}') >= 1
    assert relay.metric_becomes("handoff_queue_depth", 2)  # the tablet's two
    assert harness.metric_value(after, "handoff_tls_handshakes_total") >= 2
    assert harness.metric_value(after, "handoff_deliveries_unacknowledged") == 0
    assert harness.metric_value(after, "handoff_connections_accepted_total") >= 2
    assert harness.metric_value(after, 'handoff_limit_hits_total{limit="limits.send_rate"}') == 0


SRCDIR = os.environ.get("HF_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def test_process_build_and_readiness_series_and_every_series_is_documented():
    """handoff_build_info, the standard process_* series, handoff_store_up;
    on an allocator which servers are registered, on a server how many
    allocators accepted it (812d479 served none of them); and handoffd(8)
    names every series served (handoff_messages_set_aside_total was
    missing there)."""
    (alloc,), (server,) = cluster_of_one()
    _, page = scrape(server)
    values = {}
    for line in page.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values['handoff_build_info{version="%s",role="server"}' % harness.handoffd_version()] == 1, \
        [k for k in values if "build" in k]
    # The test certificate's notAfter, as openssl reads it.
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in",
                          server.settings["tls.certificate"]], capture_output=True, text=True, check=True).stdout
    not_after = calendar.timegm(time.strptime(out.strip().split("=", 1)[1], "%Y-%m-%d %H:%M:%SZ"))
    assert values["handoff_tls_certificate_expiry_timestamp_seconds"] == not_after, (out, not_after)
    assert values["process_resident_memory_bytes"] > 1 << 20
    assert values["process_open_fds"] >= 4
    assert values["process_cpu_seconds_total"] > 0
    assert abs(values["process_start_time_seconds"] - time.time()) < 600
    assert values["handoff_store_up"] == 1
    assert values["handoff_registrations_accepted"] == 1
    _, alloc_page = scrape(alloc)
    assert 'handoff_server_registered{server="s1"} 1' in alloc_page, alloc_page[-800:]
    with open(os.path.join(SRCDIR, "man", "handoffd.8")) as f:
        manual = f.read().replace("\\_", "_").replace("\\-", "-")
    served = set(re.findall(r"^# TYPE (\S+)", page + alloc_page, re.M))
    missing = sorted(name for name in served if name not in manual)
    assert not missing, "handoffd(8) does not name: %s" % missing
    # Every series the shipped alert rules name is served (a box's worker
    # series by a box only, and named in handoffd(8) as every served one).
    with open(os.path.join(SRCDIR, "etc", "handoff-alerts.yml")) as f:
        named = set(re.findall(r"\bhandoff_[a-z_]+", f.read()))
    # The store's depth is served once it has answered its first probe.
    harness.wait_until(lambda: "handoff_queue_depth " in scrape(server)[1], 10, "the store's depth")
    served |= set(re.findall(r"^# TYPE (\S+)", scrape(server)[1], re.M))
    unserved = sorted(name for name in named
                      if name not in served and not (name.startswith("handoff_worker_") and name in manual))
    assert not unserved, "etc/handoff-alerts.yml names series handoffd does not serve: %s" % unserved


def cluster_of_one():
    """An allocator and one server registered with it."""
    alloc = Relay("allocator", server_id="a1", **{"allocator.refresh_interval": "300ms"}).start()
    server = Relay("server", share=alloc, server_id="s1",
                   **{"register.allocators": ["127.0.0.1:%d" % alloc.alloc_port]}).start()
    harness.wait_until(lambda: "server s1 registered" in alloc.log(), 10, "s1 registered")
    harness.wait_until(lambda: server.metric("handoff_registrations_accepted") == 1, 10, "the gauge")
    return (alloc,), (server,)


if __name__ == "__main__":
    harness.run(dict(globals()))
