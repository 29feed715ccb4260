"""29: wake-ups (docs/wake.md). A device that is not connected and has a
wake route gets one content-free wake-up when a message is stored for
it. Web Push goes to npm web-push-testing, a third-party push service on
loopback that decrypts what it receives and checks the VAPID signature;
FCM and APNs go to the stand-ins in test/wake (written from the
providers' documentation: the real ones cannot be reached from here)."""

import json
import os
import subprocess
import time
import urllib.request

import harness
import hfwire
from harness import Relay

SRCDIR = os.environ.get("HF_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WAKE = os.path.abspath(os.path.join(SRCDIR, "test", "wake"))
# LMDB, unless HF_STORE names another store (29_wake_redis.py: Redis).
STORE = {} if os.environ.get("HF_STORE") else {"store.module": "lmdb"}


class PushService:
    """npm web-push-testing on a loopback port: subscriptions, the pushes
    each received (decrypted), and expiry."""

    def __init__(self):
        harness.npm_ci(WAKE, "web-push-testing")
        self.port = harness.free_port()
        self.proc = subprocess.Popen(
            ["node", os.path.join(WAKE, "node_modules", "web-push-testing", "src", "bin", "server.js"),
             str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=WAKE)
        deadline = time.time() + 20
        while True:
            try:
                self.call("/status")
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    raise AssertionError("web-push-testing did not start: " + self.proc.communicate()[0].decode())
                time.sleep(0.1)

    def url(self):
        return "http://localhost:%d" % self.port

    def call(self, path, body=None):
        req = urllib.request.Request(self.url() + path, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as answer:
            text = answer.read()
            return json.loads(text) if text.startswith(b"{") else text

    def subscribe(self, vapid_key):
        sub = self.call("/subscribe", {"applicationServerKey": vapid_key, "userVisibleOnly": "true"})["data"]
        return sub

    def received(self, sub):
        try:
            return self.call("/get-notifications", {"clientHash": sub["clientHash"]})["data"]["messages"]
        except urllib.error.HTTPError:
            return []  # none yet: it knows the subscription from its first push

    def expire(self, sub):
        self.call("/expire-subscription/" + sub["clientHash"])

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def wake_relay(push, **settings):
    relay = Relay(api_keys=True, **STORE)
    key = os.path.join(relay.dir, "vapid.pem")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True)
    relay.settings.update({"wake.vapid_key_file": key,
                           "wake.allow_endpoints": [push.url()] if push else []})
    relay.settings.update(settings)
    relay.write_config()
    return relay.start()


def put_route(relay, device, route):
    return relay.api("PUT", "/v1/accounts/alice/devices/%s/wake" % device, route)


def route_of(sub):
    return {"webpush": {"endpoint": sub["endpoint"], "keys": sub["keys"]}}


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() > deadline:
            return value
        time.sleep(0.1)


def test_three_messages_give_one_wake_up_without_their_text():
    push = PushService()
    try:
        relay = wake_relay(push)
        relay.cli(relay.token("alice", "phone"), "ping")  # the account has phone
        status, body = relay.api("GET", "/v1/wake/vapid", secret_file="")  # public: a page asks, with no key
        assert status == 200 and len(body["public_key"]) == 87, body
        sub = push.subscribe(body["public_key"])
        status, body = put_route(relay, "phone", route_of(sub))
        assert status == 200 and body["routes"]["webpush"]["endpoint"] == sub["endpoint"], body
        for i in range(3):
            status, _ = relay.api("POST", "/v1/accounts/alice/messages",
                                  {"to": "phone", "data": "secret bookmark %d" % i})
            assert status == 200
        got = wait_for(lambda: push.received(sub))
        assert got == ['{"handoff":"wake"}'], got
        assert relay.metric_becomes('handoff_wakeups_total{provider="webpush",outcome="sent"}', 1)
        assert relay.metric('handoff_wakeups_coalesced_total') == 2
        time.sleep(1)
        assert push.received(sub) == got  # still one
        # The messages stayed queued: the device drains them on connecting.
        out = relay.cli(relay.token("alice", "phone"), "listen", "--count", "3", "--timeout", "10")[1]
        assert out.split("\n")[:3] == ["secret bookmark %d" % i for i in range(3)], out
    finally:
        push.stop()


def subscribed_phone(push):
    """A relay whose device phone has a Web Push route at push: the relay
    and the push service's subscription."""
    relay = wake_relay(push)
    relay.cli(relay.token("alice", "phone"), "ping")
    sub = push.subscribe(relay.api("GET", "/v1/wake/vapid")[1]["public_key"])
    assert put_route(relay, "phone", route_of(sub))[0] == 200
    return relay, sub


def test_a_route_the_service_expired_is_dropped_and_the_message_stays():
    push = PushService()
    try:
        relay, sub = subscribed_phone(push)
        push.expire(sub)
        status, _ = relay.api("POST", "/v1/accounts/alice/messages", {"to": "phone", "data": "after expiry"})
        assert status == 200
        assert relay.metric_becomes('handoff_wakeups_total{provider="webpush",outcome="gone"}', 1)
        status, body = wait_for(lambda: (lambda r: r if r[1]["routes"] == {} else None)(
            relay.api("GET", "/v1/accounts/alice/devices/phone/wake")))
        assert (status, body["routes"]) == (200, {}), body
        out = relay.cli(relay.token("alice", "phone"), "listen", "--count", "1", "--timeout", "10")[1]
        assert out.strip() == "after expiry", out
    finally:
        push.stop()


def test_wake_test_prints_the_providers_answer():
    push = PushService()
    try:
        relay, sub = subscribed_phone(push)
        code, out, err = relay.ctl("wake-test", "alice", "phone")
        assert code == 0 and "webpush" in out and "sent" in out and "201" in out, (out, err)
        assert wait_for(lambda: push.received(sub)) == ['{"handoff":"wake"}']
        push.expire(sub)
        code, out, err = relay.ctl("wake-test", "alice", "phone")
        assert code == 1 and "gone" in out and "410" in out, (out, err)
    finally:
        push.stop()


# A subscription's keys (RFC 8291's example receiver).
KEYS = {"p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        "auth": "BTBZMqHH6r4Tts7J_aSIgg"}


def test_routes_are_checked_listed_dropped_and_revoked():
    relay = wake_relay(None, **{"wake.allow_endpoints": ["http://127.0.0.1:9"]})
    relay.cli(relay.token("alice", "phone"), "ping")
    keys = KEYS
    for endpoint, why in [("http://push.example.net/x", "not an https:// URL"),
                          ("http://127.0.0.1.evil.example/x", "not an https:// URL"),
                          ("https://user@push.example.net/x", "user name"),
                          ("http://127.0.0.1:9@10.0.0.1/x", "user name")]:
        status, body = put_route(relay, "phone", {"webpush": {"endpoint": endpoint, "keys": keys}})
        assert status == 400 and why in body["message"], (endpoint, body)
    assert put_route(relay, "phone", {"webpush": {"endpoint": "http://127.0.0.1:9/x", "keys": keys}})[0] == 200
    status, body = put_route(relay, "phone", {"fcm": {"token": "abc"}})
    assert (status, body["error"]) == (409, "not_supported"), body
    status, body = put_route(relay, "nobody", {"webpush": {"endpoint": "https://push.example.net/x", "keys": keys}})
    assert status == 404, body
    status, body = put_route(relay, "phone", {"webpush": {"endpoint": "https://push.example.net/x", "keys": {}}})
    assert status == 400 and "p256dh" in body["message"], body
    # A public name that resolves to a private address is refused when the
    # wake-up would connect: localhost is not listed.
    assert put_route(relay, "phone", {"webpush": {"endpoint": "https://localhost:9/x", "keys": keys}})[0] == 200
    status, body = relay.api("POST", "/v1/accounts/alice/devices/phone/wake/test")
    assert status == 200, body
    assert body["trials"][0]["outcome"] == "failed" and "not public" in body["trials"][0]["detail"], body
    status, body = relay.api("GET", "/v1/accounts/alice/devices")
    assert [d["wake"] for d in body["devices"] if d["device"] == "phone"] == [["webpush"]], body
    status, body = relay.api("DELETE", "/v1/accounts/alice/devices/phone/wake/webpush")
    assert (status, body["routes"]) == (200, {}), body
    assert put_route(relay, "phone", {"webpush": {"endpoint": "http://127.0.0.1:9/x", "keys": keys}})[0] == 200
    assert relay.api("POST", "/v1/accounts/alice/devices/phone/revoke")[0] == 200
    status, body = wait_for(lambda: (lambda r: r if r[1]["routes"] == {} else None)(
        relay.api("GET", "/v1/accounts/alice/devices/phone/wake")))
    assert body["routes"] == {}, body


class StandIn:
    """A provider stand-in from test/wake (node): started, its port, and
    the requests it logged."""

    def __init__(self, script, *args):
        self.log = os.path.join(os.path.dirname(args[0]), os.path.basename(script) + ".log")
        self.proc = subprocess.Popen(["node", os.path.join(WAKE, script), *args, self.log], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("ready "), "%s did not start: %s" % (script, line + self.proc.stdout.read())
        self.url = "https://127.0.0.1:%d" % int(line.split()[1])

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


APNS_TOPIC = "org.example.handoff"


def provider_relay(**settings):
    """A relay that wakes through the FCM and APNs stand-ins, which use its
    own certificate (its CA is wake.ca_file); settings: more keys."""
    relay = Relay(api_keys=True, **STORE)
    pem, key = os.path.join(relay.dir, "server.pem"), os.path.join(relay.dir, "server.key")
    credentials, p8 = os.path.join(relay.dir, "fcm.json"), os.path.join(relay.dir, "apns.p8")
    fcm = StandIn("fcm_standin.mjs", pem, key, credentials)
    apns = StandIn("apns_standin.mjs", pem, key, p8, "KEY1234567", "TEAM123456", APNS_TOPIC)
    relay.settings.update({"wake.fcm_credentials": credentials, "wake.fcm_url": fcm.url,
                           "wake.apns_key_file": p8, "wake.apns_key_id": "KEY1234567",
                           "wake.apns_team_id": "TEAM123456", "wake.apns_url": apns.url,
                           "wake.apns_sandbox_url": apns.url, "wake.ca_file": relay.ca, "wake.retry_base": "100ms"})
    relay.settings.update(settings)
    relay.write_config()
    relay.start()
    return relay, fcm, apns


def try_route(relay, device, route):
    """Sets device's route and wakes it once: what the provider's answer
    came to (outcome, status, detail)."""
    relay.cli(relay.token("alice", device), "ping")
    status, body = put_route(relay, device, route)
    assert status == 200, body
    status, body = relay.api("POST", "/v1/accounts/alice/devices/%s/wake/test" % device)
    assert status == 200 and len(body["trials"]) == 1, body
    trial = body["trials"][0]
    return trial["outcome"], trial["status"], trial["detail"]


def routes(relay, device):
    return relay.api("GET", "/v1/accounts/alice/devices/%s/wake" % device)[1]["routes"]


def test_fcm_every_documented_answer():
    relay, fcm, apns = provider_relay()
    try:
        cases = [("ok", "ok-1", "sent", 200), ("unregistered", "unregistered-1", "gone", 404),
                 ("unavailable", "unavailable-1", "retry", 503), ("invalid", "invalid-1", "failed", 400),
                 ("sender", "sender-1", "failed", 403), ("quota", "quota-once-1", "retry", 429),
                 ("auth", "auth-once-1", "retry", 401)]
        for device, token, outcome, status in cases:
            got = try_route(relay, device, {"fcm": {"token": token}})
            assert got[:2] == (outcome, status), (device, got)
        assert "UNREGISTERED" in try_route(relay, "unregistered2", {"fcm": {"token": "unregistered-2"}})[2]
        # The gone route was dropped; the others stay.
        assert routes(relay, "unregistered") == {} and "fcm" in routes(relay, "ok")
        # The access token was bought once, and again after the 401 only.
        assert try_route(relay, "after", {"fcm": {"token": "ok-2"}})[0] == "sent"
        requests = fcm.requests()
        assert [r["path"] for r in requests].count("/token") == 2, requests
        # Every request was as the documentation asks: a data-only message,
        # high priority, a ttl, the assertion signed and scoped.
        assert [r for r in requests if r["problem"]] == [], requests
        assert all(r["data"] == {"handoff": "wake"} for r in requests if r["path"] != "/token"), requests
    finally:
        fcm.stop()
        apns.stop()


def test_a_route_set_after_a_message_found_none_is_used_at_once():
    """A device without routes is not read again for each message (within
    wake.min_interval); a route set meanwhile wakes it with the next."""
    relay, fcm, apns = provider_relay()
    try:
        relay.cli(relay.token("alice", "phone"), "ping")
        for i in range(3):
            assert relay.api("POST", "/v1/accounts/alice/messages", {"to": "phone", "data": "x%d" % i})[0] == 200
        assert put_route(relay, "phone", {"fcm": {"token": "ok-late"}})[0] == 200
        assert relay.api("POST", "/v1/accounts/alice/messages", {"to": "phone", "data": "y"})[0] == 200
        assert relay.metric_becomes('handoff_wakeups_total{provider="fcm",outcome="sent"}', 1)
        assert relay.metric("handoff_wakeups_coalesced_total") == 0
    finally:
        fcm.stop()
        apns.stop()


def test_fcm_retries_after_retry_after_then_sends():
    relay, fcm, apns = provider_relay()
    try:
        relay.cli(relay.token("alice", "phone"), "ping")
        assert put_route(relay, "phone", {"fcm": {"token": "quota-once-9"}})[0] == 200
        assert relay.api("POST", "/v1/accounts/alice/messages", {"to": "phone", "data": "x"})[0] == 200
        assert relay.metric_becomes('handoff_wakeups_total{provider="fcm",outcome="sent"}', 1, timeout=10)
        assert relay.metric('handoff_wakeups_total{provider="fcm",outcome="retry"}') == 1
        sends = [r for r in fcm.requests() if r["path"] != "/token"]
        assert len(sends) == 2, sends
    finally:
        fcm.stop()
        apns.stop()


def test_apns_every_documented_answer_over_http2():
    relay, fcm, apns = provider_relay()
    try:
        def apns_route(prefix, environment="production"):
            return {"apns": {"token": prefix + "ab" * 30, "topic": APNS_TOPIC, "environment": environment}}
        cases = [("ok", apns_route("abcd"), "sent", 200), ("dev", apns_route("abcd", "development"), "sent", 200),
                 ("unregistered", apns_route("0410"), "gone", 410), ("bad", apns_route("0400"), "gone", 400),
                 ("busy", apns_route("0429"), "retry", 429), ("down", apns_route("0503"), "retry", 503),
                 ("expired", apns_route("0403"), "retry", 403), ("topic", apns_route("0401"), "failed", 400)]
        for device, route, outcome, status in cases:
            got = try_route(relay, device, route)
            assert got[:2] == (outcome, status), (device, got)
        assert routes(relay, "unregistered") == {} and routes(relay, "bad") == {} and "apns" in routes(relay, "ok")
        # After ExpiredProviderToken the next wake-up goes with a new token.
        assert try_route(relay, "expired", apns_route("0403"))[0] == "sent"
        requests = apns.requests()
        assert [r for r in requests if r["problem"]] == [], requests
        assert {(r["pushType"], r["priority"], r["topic"], r["collapse"]) for r in requests} == {
            ("background", "5", APNS_TOPIC, "handoffwake")}, requests
    finally:
        fcm.stop()
        apns.stop()


def test_a_device_sets_its_own_route_through_its_connection():
    """WAKE from libhandoff (handoff wake): set, asked, dropped, refused;
    and from raw frames, a WAKE of a server without wake-ups is answered,
    not fatal."""
    relay, fcm, apns = provider_relay()
    try:
        token = relay.token("alice", "phone")
        code, out, err = relay.cli(token, "wake", '{"fcm": {"token": "ok-7"}}')
        assert code == 0 and out.splitlines() == ["route set"], (out, err)
        assert routes(relay, "phone") == {"fcm": {"token": "ok-7"}}
        status, body = relay.api("POST", "/v1/accounts/alice/devices/phone/wake/test")
        assert body["trials"][0]["outcome"] == "sent", body
        code, out, err = relay.cli(token, "wake", '{"fcm": {}}')
        assert code == 1 and "bad_field" in err and "token" in err, (out, err)
        code, out, err = relay.cli(token, "wake", json.dumps({"webpush": {"endpoint": "https://x.example/1",
                                                                          "keys": KEYS}}))
        assert code == 1 and "no wake-ups through webpush" in err, (out, err)
        code, out, err = relay.cli(token, "wake", "--drop", "fcm")
        assert code == 0 and out.strip() == "fcm route dropped" and routes(relay, "phone") == {}, (out, err)
    finally:
        fcm.stop()
        apns.stop()
    push = PushService()
    try:
        relay = wake_relay(push)
        code, out, err = relay.cli(relay.token("alice", "pc"), "wake")
        vapid = relay.api("GET", "/v1/wake/vapid")[1]["public_key"]
        assert code == 0 and out.strip() == "vapid_key " + vapid, (out, err)
        conn = relay.conn()
        conn.send(hfwire.HELLO, [("token", relay.token("alice", "tablet"))])
        kind, welcome = conn.recv(timeout=5)
        assert kind == hfwire.WELCOME and welcome["features"] & 8, welcome
        conn.send(hfwire.WAKE, [("id", 1), ("provider", "apns"), ("route", '{"fcm":{"token":"t"}}')])
        kind, ack = conn.recv(timeout=5)
        assert kind == hfwire.WAKE_ACK and ack["code"] == hfwire.ERR["bad_field"] and "do not go together" in ack["text"]
    finally:
        push.stop()


if __name__ == "__main__":
    harness.run(dict(globals()))
