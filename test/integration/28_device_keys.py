"""28: devices' published keys (docs/protocol.md, "Device keys"), the
first part of end-to-end messages: a device with a key file publishes
its keys in every HELLO; its peers see them in PRESENCE and the API in
its device list, with the fingerprint `handoff fingerprint` prints on the
device; a peer trusts a key on first use, shows one that changed
(a reinstall, or a server swapping it) as "changed" until its user
verifies the new fingerprint."""

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
    redis = harness.RedisServer().start()
    relay = Relay(api_keys=True, **{"store.module": "redis", "store.address": redis.address(),
                                    "store.prefix": "swap:"}).start()
    phone, pc, mallory = Device(relay, "phone"), Device(relay, "pc"), Device(relay, "mallory")
    phone.run("ping")
    mallory.run("ping")
    real = pc.devices()["phone"]
    with open(mallory.keys) as f:
        stored = json.load(f)
    swapped = b64url(stored["public_key"]) + b64url(stored["signing_public_key"])
    harness.Resp(redis.port).call("HSET", "swap:{alice}v:phone", "keys", swapped)
    fingerprint, state = pc.devices()["phone"]
    assert state == "changed" and fingerprint != real[0] and fingerprint == mallory.fingerprint(), (real, state)


def test_a_hello_with_a_malformed_key_is_refused():
    relay = Relay().start()
    conn = relay.conn()
    conn.send(hfwire.HELLO, [("token", relay.token("alice", "phone")), ("device_key", b"\x04" * 130)])
    kind, fields = conn.recv(timeout=5)
    assert kind == hfwire.ERROR and fields["code"] == hfwire.ERR["bad_field"], (kind, fields)
    assert "device_key" in fields["text"], fields


if __name__ == "__main__":
    harness.run(dict(globals()))
