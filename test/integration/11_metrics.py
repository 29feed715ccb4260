"""11: /metrics and /healthz: the counters move as messages flow."""

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


if __name__ == "__main__":
    harness.run(dict(globals()))
