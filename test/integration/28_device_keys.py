"""28: devices' published keys (docs/protocol.md, "Device keys"), the
first part of end-to-end messages: a device with a key file publishes
its keys in every HELLO; its peers see them in PRESENCE and the API in
its device list, with the fingerprint `handoff fingerprint` prints on the
device; a peer trusts a key on first use, shows one that changed
(a reinstall, or a server swapping it) as "changed" until its user
verifies the new fingerprint, or a device it trusts approves it."""

import base64
import json
import os
import re

import harness
import hfwire
from harness import Relay


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Device:
    def __init__(self, relay, name, keys=None):
        self.relay, self.name = relay, name
        self.token = relay.token("alice", name)
        self.keys = keys or os.path.join(relay.dir, name + ".keys")

    def run(self, *args):
        code, out, err = self.relay.cli(self.token, "--keys", self.keys, *args)
        assert code == 0, (args, err)
        return out

    def fingerprint(self):
        out = self.run("fingerprint").strip()
        assert re.fullmatch(r"([0-9a-f]{4} ){7}[0-9a-f]{4}", out), out
        return out

    def devices(self):
        """{device: (fingerprint, state)} as `handoff devices` prints them."""
        lines = self.run("devices").splitlines()
        assert lines[0].split() == ["DEVICE", "ONLINE", "FINGERPRINT", "STATE"], lines
        rows = {}
        for line in lines[1:]:
            words = line.split()
            rows[words[0]] = (" ".join(words[2:-1]), words[-1])
        return rows


def e2e_relay(store):
    if store == "redis":
        redis = harness.RedisServer().start()
        return Relay(api_keys=True, **{"store.module": "redis", "store.address": redis.address(),
                                       "store.prefix": "e2e:"}).start(), redis
    return Relay(api_keys=True, **{"store.module": "lmdb"}).start(), None


def test_keys_are_published_and_trusted_on_first_use():
    relay = Relay(api_keys=True).start()
    phone, pc = Device(relay, "phone"), Device(relay, "pc")
    phone_fp = phone.fingerprint()
    assert os.stat(phone.keys).st_mode & 0o777 == 0o600
    with open(phone.keys) as f:
        stored = json.load(f)
    assert len(stored["signing_public_key"]) == 87 and len(stored["public_key"]) == 87, stored
    phone.run("ping")  # its HELLO publishes its keys
    # Seen for the first time: trusted from then on.
    assert pc.devices()["phone"] == (phone_fp, "new")
    assert pc.devices()["phone"] == (phone_fp, "trusted")
    # The API lists the same keys, and their fingerprint.
    status, body = relay.api("GET", "/v1/accounts/alice/devices")
    listed = {d["device"]: d for d in body["devices"]}
    assert status == 200 and listed["phone"]["fingerprint"] == phone_fp, body
    assert len(b64url(listed["phone"]["device_key"])) == 130
    # A device that publishes nothing has none.
    relay.cli(relay.token("alice", "tablet"), "ping")
    assert pc.devices()["tablet"] == ("-", "none")
    status, body = relay.api("GET", "/v1/accounts/alice/devices")
    assert {d["device"]: d["fingerprint"] for d in body["devices"]}["tablet"] is None, body


def test_a_changed_key_is_shown_until_verified():
    """A reinstall (the same device name, new keys) shows "changed" to
    its peers; `devices verify` with a wrong fingerprint refuses, with the
    one the device prints it is verified."""
    relay = Relay(api_keys=True).start()
    phone, pc = Device(relay, "phone"), Device(relay, "pc")
    phone.run("ping")
    old = phone.fingerprint()
    assert pc.devices()["phone"] == (old, "new")
    os.unlink(phone.keys)
    new = phone.fingerprint()
    assert new != old
    phone.run("ping")
    assert pc.devices()["phone"] == (new, "changed")
    code, _, err = relay.cli(pc.token, "--keys", pc.keys, "devices", "verify", "phone", old)
    assert code == 1 and "not verified" in err, err
    assert pc.devices()["phone"] == (new, "changed")
    assert pc.run("devices", "verify", "phone", new).strip() == "verified phone: " + new
    assert pc.devices()["phone"] == (new, "verified")


def test_a_server_that_swaps_a_key_is_caught():
    """The store's record of phone's keys replaced behind its back (what a
    malicious server would do): pc, which trusted the real one, shows the
    swapped one "changed"."""
    relay, redis = e2e_relay("redis")
    phone, pc, mallory = Device(relay, "phone"), Device(relay, "pc"), Device(relay, "mallory")
    phone.run("ping")
    mallory.run("ping")
    real = pc.devices()["phone"]
    with open(mallory.keys) as f:
        stored = json.load(f)
    swapped = b64url(stored["public_key"]) + b64url(stored["signing_public_key"])
    harness.Resp(redis.port).call("HSET", "e2e:{alice}v:phone", "keys", swapped)
    fingerprint, state = pc.devices()["phone"]
    assert state == "changed" and fingerprint != real[0] and fingerprint == mallory.fingerprint(), (real, state)


def store_files_hold(folder, text):
    """Whether any file under folder holds text."""
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                if text.encode() in f.read():
                    return True
    return False


def test_an_end_to_end_message_is_stored_as_ciphertext_and_read_by_its_target():
    """send --e2e while the target is away: no store file holds the
    plaintext (LMDB's data, and a Redis dump), and the target prints it
    marked end-to-end."""
    for store in ("lmdb", "redis"):
        relay, redis = e2e_relay(store)
        phone, pc = Device(relay, "phone"), Device(relay, "pc")
        phone.run("ping")
        secret = "a bookmark only phone reads %s" % os.urandom(4).hex()
        assert pc.run("send", "--e2e", "--to", "phone", secret).strip() == "stored"
        if redis:
            harness.Resp(redis.port).call("SAVE")
            folder = redis.dir
        else:
            folder = relay.settings["store.path"]
        assert store_files_hold(folder, "only phone reads") is False, store
        out = phone.run("listen", "--count", "1", "--timeout", "10", "--format", "json")
        got = json.loads(out)
        assert (got["payload"], got["from"], got.get("e2e")) == (secret, "pc", True), got
        relay.stop()


def test_a_swapped_or_reinstalled_key_stops_the_send_until_verified():
    """The server swaps phone's published keys: pc's send --e2e is refused,
    naming phone, and nothing is sent. A reinstalled phone (new keys) is
    refused alike until `devices verify`, then takes the message."""
    relay, redis = e2e_relay("redis")
    phone, pc, mallory = Device(relay, "phone"), Device(relay, "pc"), Device(relay, "mallory")
    phone.run("ping")
    mallory.run("ping")
    assert pc.run("send", "--e2e", "--to", "phone", "first").strip() == "stored"  # trusted on first use
    real = harness.Resp(redis.port).call("HGET", "e2e:{alice}v:phone", "keys")
    fake = harness.Resp(redis.port).call("HGET", "e2e:{alice}v:mallory", "keys")
    harness.Resp(redis.port).call("HSET", "e2e:{alice}v:phone", "keys", fake)
    code, _, err = relay.cli(pc.token, "--keys", pc.keys, "send", "--e2e", "--to", "phone", "to the server?")
    assert code == 1 and "the key of phone changed" in err and "nothing was sent" in err, err
    harness.Resp(redis.port).call("HSET", "e2e:{alice}v:phone", "keys", real)
    # A reinstall: the same name, new keys.
    os.unlink(phone.keys)
    phone.run("ping")
    code, _, err = relay.cli(pc.token, "--keys", pc.keys, "send", "--e2e", "--to", "phone", "after reinstall")
    assert code == 1 and "the key of phone changed" in err, err
    pc.run("devices", "verify", "phone", phone.fingerprint())
    assert pc.run("send", "--e2e", "--to", "phone", "after verify").strip() == "stored"
    # The reinstalled phone cannot read what was sent to its old keys
    # (refused), and reads what came after.
    code, out, err = relay.cli(phone.token, "--keys", phone.keys, "listen", "--count", "1", "--timeout", "10",
                               "--format", "json")
    assert code == 0 and json.loads(out)["payload"] == "after verify", (out, err)
    assert "refused" in err, err


def test_an_approval_by_a_trusted_device_verifies_a_key_everywhere():
    """phone is reinstalled: tablet shows it "changed". Its user compares
    fingerprints once, on pc, with `devices approve`: tablet, which
    trusts pc, takes phone's new key as verified from pc's approval and
    sends to it. An approval signed by a key tablet does not trust (pc
    reinstalled too, or a server forging one) changes nothing."""
    relay = Relay(api_keys=True).start()
    pc, tablet, phone = Device(relay, "pc"), Device(relay, "tablet"), Device(relay, "phone")
    for d in (pc, tablet, phone):
        d.run("ping")
    assert {state for _, state in tablet.devices().values()} == {"new"}
    pc.devices()
    os.unlink(phone.keys)
    new = phone.fingerprint()
    phone.run("ping")
    assert tablet.devices()["phone"] == (new, "changed")
    out = pc.run("devices", "approve", "phone", new)
    assert out.splitlines() == ["verified phone: " + new, "approval stored for the account's other devices"], out
    code, out, err = relay.cli(tablet.token, "--keys", tablet.keys, "listen", "--timeout", "3")
    assert code == 0 and out == "" and "refused" not in err, (out, err)  # applied, not shown
    assert tablet.devices()["phone"] == (new, "verified")
    assert tablet.run("send", "--e2e", "--to", "phone", "after the approval").strip() == "stored"
    got = json.loads(phone.run("listen", "--count", "1", "--timeout", "10", "--format", "json"))
    assert (got["payload"], got["from"], got.get("e2e")) == ("after the approval", "tablet", True), got
    # phone again, approved by a pc whose key tablet never trusted.
    os.unlink(phone.keys)
    newer = phone.fingerprint()
    phone.run("ping")
    os.unlink(pc.keys)
    pc.run("devices", "approve", "phone", newer)
    code, out, err = relay.cli(tablet.token, "--keys", tablet.keys, "listen", "--timeout", "3")
    assert code == 0 and "the key of pc changed" in err and "refused" in err, (out, err)
    assert tablet.devices()["phone"] == (newer, "changed")


def test_every_device_gets_its_own_copy_and_a_revoked_one_none():
    relay = Relay(api_keys=True).start()
    pc = Device(relay, "pc")
    others = [Device(relay, name) for name in ("phone", "tablet", "laptop")]
    for d in others:
        d.run("ping")
    status, _ = relay.api("POST", "/v1/accounts/alice/devices/laptop/revoke")
    assert status == 200
    code, out, err = relay.cli(pc.token, "--keys", pc.keys, "send", "--e2e", "--to", "*", "for everyone")
    assert code == 0 and out.strip() == "stored", err
    assert "laptop published no keys" in err, err
    for d in others[:2]:
        got = json.loads(d.run("listen", "--count", "1", "--timeout", "10", "--format", "json"))
        assert (got["payload"], got.get("e2e")) == ("for everyone", True), got
    status, body = relay.api("GET", "/v1/accounts/alice/queues")
    assert status == 200 and not any(q["device"] == "laptop" and q["messages"] for q in body["queues"]), body


def test_an_api_send_is_not_end_to_end():
    """A backend's plain message is shown as such: no e2e mark."""
    relay = Relay(api_keys=True).start()
    phone = Device(relay, "phone")
    phone.run("ping")
    status, _ = relay.api("POST", "/v1/accounts/alice/messages", {"to": "phone", "data": "from the backend"})
    assert status == 200
    got = json.loads(phone.run("listen", "--count", "1", "--timeout", "10", "--format", "json"))
    assert got["payload"] == "from the backend" and "e2e" not in got, got


def test_a_hello_with_a_malformed_key_is_refused():
    relay = Relay().start()
    conn = relay.conn()
    conn.send(hfwire.HELLO, [("token", relay.token("alice", "phone")), ("device_key", b"\x04" * 130)])
    kind, fields = conn.recv(timeout=5)
    assert kind == hfwire.ERROR and fields["code"] == hfwire.ERR["bad_field"], (kind, fields)
    assert "device_key" in fields["text"], fields


if __name__ == "__main__":
    harness.run(dict(globals()))
