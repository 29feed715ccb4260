"""27: handoff as a Web Push service (docs/push.md). The application
server is npm web-push (test/webpush/appserver.mjs), the device the
handoff CLI with its key file: subscriptions, pushes online and away,
Topic and TTL, VAPID, and every refusal RFC 8030 and 8292 name."""

import json
import os
import subprocess
import time

import harness
import hfwire
from harness import Relay

SRCDIR = os.environ.get("HF_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
APPSERVER = os.path.join(SRCDIR, "test", "webpush")


def appserver(command, relay):
    """One command to the web-push application server: its JSON answer."""
    harness.npm_ci(APPSERVER, "web-push")
    out = subprocess.run(["node", os.path.join(APPSERVER, "appserver.mjs"), json.dumps(command)],
                         capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, NODE_EXTRA_CA_CERTS=relay.ca))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def push_relay(**settings):
    """A relay serving Web Push (its API listener, push.key_file)."""
    relay = Relay(api_keys=True, **settings)
    relay.settings["push.key_file"] = os.path.join(relay.dir, "push.secret")
    relay.write_config()
    return relay.start()


class Device:
    """A device of the relay with its key file."""

    def __init__(self, relay, account="alice", device="phone"):
        self.relay = relay
        self.token = relay.token(account, device)
        self.keys = os.path.join(relay.dir, "%s-%s.keys" % (account, device))

    def run(self, *args, timeout=20):
        return self.relay.cli(self.token, "--keys", self.keys, *args, timeout=timeout)

    def subscribe(self, app, vapid_key=None):
        """The PushSubscription JSON `handoff subscribe` prints."""
        args = ["subscribe", "--app", app] + (["--vapid-key", vapid_key] if vapid_key else [])
        code, out, err = self.run(*args)
        assert code == 0, err
        return json.loads(out)

    def received(self, count=None, timeout=5):
        """What `handoff listen --keys --format json` prints: one object a message."""
        args = ["listen", "--format", "json", "--timeout", str(timeout)] + (["--count", str(count)] if count else [])
        code, out, err = self.run(*args, timeout=timeout + 15)
        assert code == 0, err
        return [json.loads(line) for line in out.splitlines()]


def send(relay, subscription, payload, **options):
    got = appserver({"do": "send", "subscription": subscription, "payload": payload,
                     "options": dict({"TTL": 60}, **options)}, relay)
    return got["status"], got["headers"], got["body"]


def curl(relay, method, url, body=b"", headers=()):
    """(status, headers text, body) of one request to a push resource, by hand."""
    args = ["curl", "-sS", "--max-time", "10", "--cacert", relay.ca, "-X", method, "-D", "-", "-o", "-",
            "--data-binary", "@-"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [url], input=body, capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr.decode()
    head, _, text = out.stdout.decode(errors="replace").partition("\r\n\r\n")
    return int(head.split()[1]), head, text


def test_a_push_reaches_the_device_online_and_away():
    """web-push's pushes while the device listens, and while it is away:
    201 Created with Location and TTL, and `listen --keys` prints the
    plaintext with the push's app and urgency."""
    relay = push_relay()
    phone = Device(relay)
    sub = phone.subscribe("mastodon")
    assert sub["endpoint"].startswith("https://127.0.0.1:%d/push/" % relay.api_port), sub
    assert set(sub["keys"]) == {"p256dh", "auth"}, sub
    assert os.stat(phone.keys).st_mode & 0o777 == 0o600
    # Asked again, the same subscription.
    assert phone.subscribe("mastodon") == sub
    listener = relay.cli_background(phone.token, "--keys", phone.keys, "listen", "--format", "json", "--count", "1",
                                    "--timeout", "15")
    harness.wait_until(lambda: relay.metric("handoff_online_devices") == 1, 10, "the listener to connect")
    status, headers, body = send(relay, sub, "a toot, live", urgency="high")
    assert status == 201, (status, body)
    assert headers["location"].startswith("/push/message/") and headers["ttl"] == "60", headers
    out, err = listener.communicate(timeout=20)
    got = json.loads(out)
    assert (got["payload"], got["app"], got["urgency"], got["from"]) == ("a toot, live", "mastodon", "high",
                                                                          "+mastodon"), (got, err)
    status, _, body = send(relay, sub, "a toot, while away")
    assert status == 201 and json.loads(body)["status"] == "stored", (status, body)
    got = phone.received(count=1)
    assert [(m["payload"], m["urgency"]) for m in got] == [("a toot, while away", "normal")], got


def test_topic_replaces_and_ttl_expires():
    """A Topic replaces the undelivered push of that topic (of its own app
    only); a push whose TTL ran out is never delivered; a TTL past
    limits.max_ttl is cut to it, and the answer says so."""
    relay = push_relay(**{"limits.max_ttl": "1h", "delivery.default_ttl": "1h"})
    phone = Device(relay)
    mastodon, matrix = phone.subscribe("mastodon"), phone.subscribe("matrix")
    assert send(relay, mastodon, "first score", topic="score")[0] == 201
    assert send(relay, matrix, "matrix score", topic="score")[0] == 201
    assert send(relay, mastodon, "short-lived", TTL=1)[0] == 201
    status, headers, _ = send(relay, mastodon, "final score", topic="score", TTL=86400)
    assert status == 201 and headers["ttl"] == "3600", headers
    time.sleep(2.5)
    got = phone.received(timeout=3)
    assert sorted(m["payload"] for m in got) == ["final score", "matrix score"], got


def test_delete_on_its_location_cancels_an_undelivered_push():
    """RFC 8030, section 7.3: DELETE on a push's Location, 204, and the
    device never sees it; the others (a Topic's among them) stay; a
    Location this server did not seal is 404, and it takes DELETE only."""
    relay = push_relay()
    phone = Device(relay)
    sub = phone.subscribe("mastodon")
    kept, cancelled = send(relay, sub, "kept"), send(relay, sub, "cancelled")
    topic_kept = send(relay, sub, "a topic's", topic="news")
    topic_cancelled = send(relay, sub, "a topic's, cancelled", topic="sport")
    base = "https://127.0.0.1:%d" % relay.api_port
    for answer in (cancelled, topic_cancelled):
        status, _, text = curl(relay, "DELETE", base + answer[1]["location"])
        assert status == 204 and text == "", (status, text)
    status, _, _ = curl(relay, "DELETE", base + "/push/message/AAAA")
    assert status == 404
    status, head, _ = curl(relay, "GET", base + kept[1]["location"])
    assert status == 405 and "Allow: DELETE" in head, head
    got = phone.received(timeout=3)
    assert sorted(m["payload"] for m in got) == ["a topic's", "kept"], got
    assert [m.get("collapse") for m in got if m["payload"] == "a topic's"] in ([None], ["news"]), got
    # Cancelling what was delivered already changes nothing.
    status, _, _ = curl(relay, "DELETE", base + kept[1]["location"])
    assert status == 204
    assert phone.received(timeout=2) == []


def test_vapid_restricts_a_subscription_to_its_application_server():
    """RFC 8292: a subscription made with an application server's key takes
    that server's signed pushes only: another key 403, none, an expired
    JWT or another audience 401."""
    relay = push_relay()
    phone = Device(relay)
    mine, other = appserver({"do": "keys"}, relay), appserver({"do": "keys"}, relay)
    sub = phone.subscribe("mastodon", vapid_key=mine["publicKey"])
    details = {"subject": "mailto:ops@example.org", "publicKey": mine["publicKey"], "privateKey": mine["privateKey"]}
    assert send(relay, sub, "signed", vapidDetails=details)[0] == 201
    status, _, body = send(relay, sub, "signed by another",
                           vapidDetails=dict(details, publicKey=other["publicKey"], privateKey=other["privateKey"]))
    assert status == 403 and "not the key this subscription was made with" in body, (status, body)
    status, _, body = send(relay, sub, "unsigned")
    assert status == 401, (status, body)
    assert relay.metric('handoff_pushes_total{outcome="unauthorized"}') == 2
    origin = "https://127.0.0.1:%d" % relay.api_port
    for audience, exp, why in ((origin, int(time.time()) - 60, "expired"),
                               ("https://elsewhere.example", int(time.time()) + 600, "aud"),
                               (origin, int(time.time()) + 3 * 86400, "ahead")):
        header = appserver({"do": "vapid", "audience": audience, "exp": exp, "publicKey": mine["publicKey"],
                            "privateKey": mine["privateKey"]}, relay)["authorization"]
        status, _, body = curl(relay, "POST", sub["endpoint"], b"x" * 100,
                               ["Content-Encoding: aes128gcm", "TTL: 60", "Authorization: " + header])
        assert status == 401 and why in body, (why, status, body)
    got = phone.received(count=1)
    assert [m["payload"] for m in got] == ["signed"], got


def test_refusals_are_the_rfcs():
    """413 past push.max_body, 415 without aes128gcm, 400 without TTL or
    with a bad Urgency or Topic, 404 for an endpoint this server never
    sealed, and UnifiedPush's discovery answered on GET."""
    relay = push_relay()
    phone = Device(relay)
    sub = phone.subscribe("mastodon")
    url = sub["endpoint"]
    good = ["Content-Encoding: aes128gcm", "TTL: 60"]
    cases = [
        (b"x" * 4097, good, 413, "push.max_body"),
        (b"x" * 100, ["TTL: 60"], 415, "aes128gcm"),
        (b"x" * 100, ["Content-Encoding: aes128gcm"], 400, "TTL"),
        (b"x" * 100, good + ["Urgency: asap"], 400, "Urgency"),
        (b"x" * 100, good + ["Topic: " + "a" * 33], 400, "Topic"),
        (b"x" * 100, good + ["Topic: not base64!"], 400, "Topic"),
    ]
    for body, headers, wanted, said in cases:
        status, _, text = curl(relay, "POST", url, body, headers)
        assert status == wanted and said in text, (headers, status, text)
    status, _, text = curl(relay, "POST", url[:-4] + "AAAA", b"x", good)
    assert status == 404, (status, text)
    status, _, text = curl(relay, "POST", "https://127.0.0.1:%d/push/nothing-sealed" % relay.api_port, b"x", good)
    assert status == 404, (status, text)
    status, _, text = curl(relay, "GET", url)
    assert status == 200 and json.loads(text) == {"unifiedpush": {"version": 1}}, (status, text)
    status, _, _ = curl(relay, "POST", url, b"x" * 4096, good)
    assert status == 201
    assert relay.metric('handoff_api_requests_total{route="push",status="413"}') == 1
    assert relay.metric('handoff_api_requests_total{route="push",status="201"}') == 1
    for outcome, count in (("accepted", 1), ("too_large", 1), ("bad_request", 5), ("not_found", 2)):
        assert relay.metric('handoff_pushes_total{outcome="%s"}' % outcome) == count, outcome


def test_unsubscribed_and_revoked_are_gone():
    """410 Gone once the device unsubscribes, and for every subscription
    of a revoked device; a device's other apps are untouched."""
    relay = push_relay()
    phone = Device(relay)
    mastodon, matrix = phone.subscribe("mastodon"), phone.subscribe("matrix")
    code, _, err = phone.run("unsubscribe", "--app", "mastodon")
    assert code == 0, err
    with open(phone.keys) as f:
        assert "mastodon" not in json.load(f)["apps"]
    status, _, body = send(relay, mastodon, "to nobody")
    assert status == 410, (status, body)
    assert send(relay, matrix, "still here")[0] == 201
    status, _ = relay.api("POST", "/v1/accounts/alice/devices/phone/revoke", {})
    assert status == 200
    status, _, body = send(relay, matrix, "to a revoked device")
    assert status == 410 and "revoked" in body, (status, body)
    assert relay.metric('handoff_pushes_total{outcome="gone"}') == 2


def test_the_api_lists_and_revokes_a_devices_subscriptions():
    """GET .../devices/{device}/subscriptions and POST
    .../subscriptions/{app}/revoke, and handoffctl's subscriptions and
    unsubscribe: the endpoints the device was given, and 410 once one is
    revoked."""
    relay = push_relay()
    phone = Device(relay)
    keys = appserver({"do": "keys"}, relay)
    mastodon, matrix = phone.subscribe("mastodon", vapid_key=keys["publicKey"]), phone.subscribe("matrix")
    status, body = relay.api("GET", "/v1/accounts/alice/devices/phone/subscriptions")
    assert status == 200, body
    listed = {s["app"]: s for s in body["subscriptions"]}
    assert listed["mastodon"]["endpoint"] == mastodon["endpoint"] and listed["matrix"]["endpoint"] == matrix["endpoint"]
    assert listed["mastodon"]["vapid_key"] == keys["publicKey"] and listed["matrix"]["vapid_key"] is None, listed
    code, out, err = relay.ctl("subscriptions", "alice", "phone")
    assert code == 0 and "mastodon" in out and matrix["endpoint"] in out, (out, err)
    code, out, err = relay.ctl("unsubscribe", "alice", "phone", "matrix")
    assert code == 0 and "410" in out, (out, err)
    status, _, _ = send(relay, matrix, "to a revoked subscription")
    assert status == 410
    status, body = relay.api("POST", "/v1/accounts/alice/devices/phone/subscriptions/matrix/revoke", {})
    assert status == 404 and body["error"] == "not_found", body
    status, body = relay.api("GET", "/v1/accounts/alice/devices/phone/subscriptions")
    assert [s["app"] for s in body["subscriptions"]] == ["mastodon"], body


def test_a_subscription_past_its_rate_is_answered_429():
    """push.burst pushes at once, then push.rate a second: 20 pushes sent
    together by one curl take the burst (and what refilled meanwhile, a
    push a second), and the rest are 429 with Retry-After."""
    relay = push_relay(**{"push.rate": 1, "push.burst": 3})
    phone = Device(relay)
    sub = phone.subscribe("mastodon")
    count = 20
    args = ["curl", "-sS", "--max-time", "20", "--cacert", relay.ca, "--parallel", "--parallel-max", str(count),
            "-o", "/dev/null", "-w", "%{http_code} %header{retry-after}\n", "-H", "Content-Encoding: aes128gcm",
            "-H", "TTL: 60", "--data-binary", "x" * 100]
    started = time.monotonic()
    out = subprocess.run(args + [sub["endpoint"]] * count, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    answers = [line.split() for line in out.stdout.splitlines()]
    accepted = [a for a in answers if a[0] == "201"]
    limited = [a for a in answers if a[0] == "429"]
    assert 3 <= len(accepted) <= 3 + int(elapsed) + 1 and len(accepted) + len(limited) == count, (elapsed, answers)
    assert all(len(a) == 2 and int(a[1]) >= 1 for a in limited), limited
    assert relay.metric('handoff_pushes_total{outcome="rate_limited"}') == len(limited)


def test_subscriptions_are_limited_and_refused_without_push():
    """push.max_subscriptions per device, then too_many_subscriptions; a
    server without push.key_file refuses SUBSCRIBE and does not offer it."""
    relay = push_relay(**{"push.max_subscriptions": 2})
    phone = Device(relay)
    phone.subscribe("a")
    phone.subscribe("b")
    code, _, err = phone.run("subscribe", "--app", "c")
    assert code == 1 and "too_many_subscriptions" in err, err
    phone.subscribe("a")  # the same app again is no new one
    plain = Relay(api_keys=True).start()
    code, _, err = Device(plain).run("subscribe", "--app", "a")
    assert code == 1 and "does not offer Web Push" in err, err


def test_pushes_reach_the_worker_that_holds_the_account():
    """workers = 2 with stores of their own: worker 0 takes every push
    and hands it on to the account's worker, with its headers (TTL,
    Content-Encoding, Urgency, Topic), and relays its answer with Location
    and TTL; a DELETE on that Location cancels it there."""
    relay = push_relay(**{"workers": 2, "store.module": "lmdb", "listen.device": "127.0.0.1:%d" % harness.free_block(2)})
    # Accounts until one is on each worker (by the address the allocator gives).
    homes = {}
    for i in range(64):
        token = relay.token("user%d" % i, "phone")
        homes.setdefault(hfwire.allocate(relay.alloc_port, relay.ca, token)[0], "user%d" % i)
        if len(homes) == 2:
            break
    assert len(homes) == 2, homes
    base = "https://127.0.0.1:%d" % relay.api_port
    for account in homes.values():
        phone = Device(relay, account=account)
        sub = phone.subscribe("mastodon")
        status, headers, _ = send(relay, sub, "kept, for " + account, urgency="low", topic="t1")
        assert status == 201 and headers["location"].startswith("/push/message/") and headers["ttl"] == "60", headers
        status, headers, _ = send(relay, sub, "cancelled, for " + account)
        assert status == 201, headers
        assert curl(relay, "DELETE", base + headers["location"])[0] == 204
        got = phone.received(timeout=3)
        assert [(m["payload"], m["urgency"]) for m in got] == [("kept, for " + account, "low")], got


def test_a_subscription_outlives_a_restart():
    """The store keeps subscriptions (with HF_STORE=lmdb or redis, across
    a restart): the endpoint still takes pushes afterwards."""
    relay = push_relay()
    phone = Device(relay)
    sub = phone.subscribe("mastodon")
    relay.stop()
    relay.start()
    status, _, body = send(relay, sub, "after a restart")
    if relay.uses("memory"):
        assert status == 410, (status, body)  # memory keeps nothing
        return
    assert status == 201, (status, body)
    assert [m["payload"] for m in phone.received(count=1)] == ["after a restart"]


if __name__ == "__main__":
    harness.run(dict(globals()))
