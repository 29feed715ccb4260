"""24: store_redis's Lua scripts run directly against a real redis-server,
each with the libraries its "-- uses:" line names, as Redis runs them
(src/modules/redis/lua/README.md): the rules of each, without a daemon."""

import os
import struct
import time

import harness
from harness import RedisServer

LUA = os.path.join(os.environ.get("HF_SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                   "src", "modules", "redis", "lua")


def script(name):
    """The script as embed.sh embeds it: its libraries, then itself."""
    with open(os.path.join(LUA, name + ".lua")) as f:
        text = f.read()
    parts = []
    for line in text.splitlines():
        if line.startswith("-- uses: "):
            parts += line[len("-- uses: "):].split()
    parts.append(name)
    out = []
    for part in parts:
        with open(os.path.join(LUA, part + ".lua")) as f:
            out += [line for line in f.read().splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(out) + "\n"


class Resp(harness.Resp):
    """harness.Resp that runs store_redis's scripts by name."""

    def eval(self, name, keys, args):
        return self.call("EVAL", script(name), len(keys), *keys, *args)


def record(msg_id, payload, sender="pc", collapse=b"", stored_at=1000, expires_at=10 ** 12):
    """modules/common/record.h's layout, with its 4-byte length in front."""
    body = struct.pack(">QQQ", msg_id, stored_at, expires_at)
    body += struct.pack(">H", len(sender)) + sender.encode()
    body += struct.pack(">H", len(collapse)) + collapse + payload
    return struct.pack(">I", len(body)) + body


DEV = "alice|phone"
KEYS = {k: "t{alice}%s:phone" % k for k in "qicsx"}
ACCOUNT_KEYS = ["t{alice}t", "t{alice}k"]  # the account's usage and queued devices


def device_keys(device):
    return ["t{alice}%s:%s" % (k, device) for k in "qicsx"] + ACCOUNT_KEYS


def enqueue(r, *records, max_count=100, max_bytes=1 << 20, width=64, account_count=1000, account_bytes=1 << 30,
            device="phone"):
    keys = ["t{alice}e", "t{alice}n"] + device_keys(device)
    status, firsts, replaced = r.eval("enqueue", keys, [5000, width, 3600000, max_count, max_bytes, account_count,
                                                        account_bytes, "alice|" + device, 10 ** 12,
                                                        b"".join(records)])
    return status.decode(), firsts, replaced


def account_usage(r):
    held = r.call("HMGET", "t{alice}t", "count", "bytes")
    return tuple(int(v or 0) for v in held), sorted(d.decode() for d in r.call("SMEMBERS", "t{alice}k"))


def fetch(r, after=0):
    """The entries (id, blob) after `after`, the dead seqs, and whether it
    read to the end."""
    flat, dead, ended = r.eval("fetch", [KEYS["q"], KEYS["x"]], [after, 100, 1 << 20])
    return list(zip(flat[::2], flat[1::2])), dead, ended


def sent_as(seq, msg_id, sender="pc"):
    """What a device was sent as seq, in ack.lua's layout."""
    return struct.pack(">QHQ", seq, 8 + len(sender), msg_id) + sender.encode()


def ack_checked(r, upto, *sent, device="phone"):
    """How many messages went, and the first seq sent as another message
    than the queue holds (0: none)."""
    keys = device_keys(device)
    dropped, forked = r.eval("ack", ["t{alice}n"] + keys[:3] + keys[4:], [upto, device, b"".join(sent)])
    return dropped, forked


def ack(r, upto, device="phone"):
    return ack_checked(r, upto, device=device)[0]


def test_enqueue_numbers_messages_and_tells_resends_apart():
    """Seqs go on from the last; a resend (same sender and id) is a
    duplicate (1), and 2 once the target acknowledged everything that
    sender sent it; another sender's same id is new; an id far above the
    top starts the pair afresh."""
    redis = RedisServer().start()
    r = Resp(redis.port)
    status, firsts, _ = enqueue(r, record(1, b"a"), record(2, b"b"))
    assert (status, firsts) == ("00", [1]), (status, firsts)
    status, firsts, _ = enqueue(r, record(2, b"b"), record(3, b"c"), record(1, b"x", sender="tablet"))
    assert (status, firsts) == ("100", [3]), (status, firsts)
    assert ack(r, 2) == 2
    status, _, _ = enqueue(r, record(1, b"a"), record(3, b"c"))
    assert status == "11", status  # pc's 3 is not acknowledged yet
    assert int(r.call("GET", "t{alice}n")) == 2  # 3 and the tablet's 1 wait
    assert ack(r, 4) == 2
    status, _, _ = enqueue(r, record(2, b"b"))
    assert status == "2", status  # everything pc sent was acknowledged
    status, firsts, _ = enqueue(r, record(1 << 40, b"restart"), record(1, b"a"))
    assert status == "00" and firsts == [5], (status, firsts)  # afresh at 2^40; 1 is far below it: new


def test_collapse_replaces_the_older_message_and_fetch_skips_it():
    redis = RedisServer().start()
    r = Resp(redis.port)
    enqueue(r, record(1, b"old", collapse=b"k"), record(2, b"other"))
    status, _, replaced = enqueue(r, record(3, b"new", collapse=b"k"))
    assert status == "0" and replaced == [1, 1], (status, replaced)  # message 1 of the batch replaced seq 1
    entries, dead, ended = fetch(r)
    assert dead == [1] and ended == 1, (dead, ended)
    assert [e[0] for e in entries] == [b"2-1", b"3-3"], entries  # the first entry stays whole
    info = dict(zip(*[iter(r.call("HGETALL", KEYS["i"]))] * 2))
    assert (int(info[b"count"]), int(info[b"bytes"])) == (2, len(b"other") + len(b"new")), info


def test_a_full_queue_refuses_and_stores_nothing():
    redis = RedisServer().start()
    r = Resp(redis.port)
    status, _, _ = enqueue(r, record(1, b"a"), record(2, b"b"), record(3, b"c"), max_count=2)
    assert status == "003", status
    status, _, _ = enqueue(r, record(4, b"d" * 100), max_bytes=50)
    assert status == "3", status
    assert ack(r, 2) == 2
    status, firsts, _ = enqueue(r, record(3, b"c"), max_count=2)
    assert (status, firsts) == ("0", [3]), (status, firsts)  # the refused id was not taken


def test_ack_drops_only_entries_acknowledged_whole():
    redis = RedisServer().start()
    r = Resp(redis.port)
    enqueue(r, record(1, b"a"), record(2, b"b"))
    enqueue(r, record(3, b"c"))
    assert ack(r, 1) == 0  # the entry of 1 and 2 stays until 2 is acknowledged
    assert r.call("XLEN", KEYS["q"]) == 2
    entries, _, _ = fetch(r, after=1)
    assert [e[0] for e in entries] == [b"2-1", b"3-3"], entries
    assert ack(r, 3) == 3
    assert r.call("XLEN", KEYS["q"]) == 0 and int(r.call("GET", "t{alice}n")) == 0


def test_ack_drops_nothing_past_a_seq_sent_as_another_message():
    """A primary cut off from the others numbered on while its promoted
    replica numbered the same seqs: a device shown the cut-off side's
    messages acknowledges seqs that hold other messages here. Those stay
    (docs/faults.md, N6: before, ack dropped them by seq, unseen), and so
    does every seq past one this side never numbered."""
    redis = RedisServer().start()
    r = Resp(redis.port)
    enqueue(r, record(1, b"a"), record(2, b"b"))
    enqueue(r, record(3, b"c"))
    # Seq 2 was the tablet's message 7 where the device read it.
    assert ack_checked(r, 3, sent_as(1, 1), sent_as(2, 7, "tablet"), sent_as(3, 3)) == (0, 2)
    entries, _, _ = fetch(r, after=1)
    assert [e[0] for e in entries] == [b"2-1", b"3-3"], entries  # pc's 2 and 3 are still there
    assert int(r.call("HGET", KEYS["i"], "acked")) == 1
    # Sent as they are here, and one seq (4) this side never numbered.
    assert ack_checked(r, 4, sent_as(2, 2), sent_as(3, 3), sent_as(4, 9)) == (3, 4)
    assert r.call("XLEN", KEYS["q"]) == 0 and int(r.call("HGET", KEYS["i"], "acked")) == 3
    # Seqs not listed go by seq, as before.
    enqueue(r, record(4, b"d"))
    assert ack_checked(r, 4) == (1, 0)


def test_expire_marks_the_expired_dead_and_drops_whole_entries():
    redis = RedisServer().start()
    r = Resp(redis.port)
    enqueue(r, record(1, b"soon", expires_at=2000), record(2, b"later", expires_at=9000))
    enqueue(r, record(3, b"soon too", expires_at=2500))
    keys = [KEYS["q"], KEYS["i"], KEYS["x"], "t{alice}e", "t{alice}n", KEYS["c"]] + ACCOUNT_KEYS
    assert r.eval("expire", keys, [3000, DEV]) == 2
    entries, dead, _ = fetch(r)
    assert [e[0] for e in entries] == [b"2-1"] and dead == [1], (entries, dead)  # 3's entry went whole
    assert int(r.call("ZSCORE", "t{alice}e", DEV)) == 9000  # scored by what is left
    assert r.eval("expire", keys, [10000, DEV]) == 1
    assert r.call("XLEN", KEYS["q"]) == 0 and r.call("ZSCORE", "t{alice}e", DEV) is None
    assert int(r.call("GET", "t{alice}n")) == 0
    assert account_usage(r) == ((0, 0), []), account_usage(r)  # the account's usage went with them


def test_the_account_quota_counts_every_queue_of_the_account():
    """Two devices' queues count together against the account's quota (4,
    account full, past it); collapse, acknowledgements and expiry give
    room back, and the k set names the devices whose queue holds
    anything."""
    redis = RedisServer().start()
    r = Resp(redis.port)
    status, _, _ = enqueue(r, record(1, b"aa"), record(2, b"bb"), account_count=3)
    assert status == "00", status
    status, _, _ = enqueue(r, record(1, b"cc"), record(2, b"dd"), account_count=3, device="tablet")
    assert status == "04", status  # one room left in the account, the tablet's own queue is empty
    assert account_usage(r) == ((3, 6), ["phone", "tablet"]), account_usage(r)
    status, _, _ = enqueue(r, record(3, b"e" * 10), account_bytes=15, device="tablet")
    assert status == "4", status  # bytes: 6 held + 10 > 15
    status, _, replaced = enqueue(r, record(4, b"ff", collapse=b"k"), device="tablet")
    status, _, replaced = enqueue(r, record(5, b"g", collapse=b"k"), account_count=4, device="tablet")
    assert status == "0" and replaced, (status, replaced)  # replacing takes no room
    assert account_usage(r) == ((4, 7), ["phone", "tablet"]), account_usage(r)
    assert ack(r, 2) == 2
    assert account_usage(r) == ((2, 3), ["tablet"]), account_usage(r)
    assert ack(r, 3, device="tablet") == 2  # the dead (collapsed) message is not counted again
    assert account_usage(r) == ((0, 0), []), account_usage(r)


def test_presence_watch_and_device_state():
    redis = RedisServer().start()
    r = Resp(redis.port)
    p, watchers, last = "t{alice}p:phone", "t{alice}w", "t{alice}l:phone"
    now = int(time.time() * 1000)
    assert r.eval("watch", [watchers], ["s9", now + 90000, now]) == 0
    assert r.eval("watch", [watchers], ["s8", now + 30000, now]) == 0
    assert 60000 < r.call("PTTL", watchers) <= 90000  # as long as its longest watch
    assert r.eval("presence_set", [p, watchers], ["s1", 30000, now]) == [b"s8", b"s9"]  # an arrival
    assert r.eval("presence_set", [p, watchers], ["s1", 30000, now + 1000]) == []  # a refresh
    assert r.call("GET", p) == b"s1|%d" % now  # keeps the time it came
    assert r.eval("presence_clear", [p, last, watchers], ["s2", now + 2000]) == []  # not s2's to clear
    assert r.eval("presence_clear", [p, last, watchers], ["s1", now + 40000]) == [b"s9"]  # s8's watch ended
    state = r.eval("device_state", [p, last, KEYS["i"], "t{alice}r:phone"], [])
    assert state == [b"", b"%d" % (now + 40000), b"0", b"0", b""], state
    # A refresh takes a presence only while it is the server's or nobody's.
    assert r.eval("presence_refresh", [p, watchers], ["s1", 30000, now + 41000]) == [b"set", b"s9"]  # lapsed
    assert r.eval("presence_refresh", [p, watchers], ["s1", 30000, now + 42000]) == [b"ours"]
    assert r.call("GET", p) == b"s1|%d" % (now + 41000)
    assert r.eval("presence_set", [p, watchers], ["s2", 30000, now + 43000]) == [b"s9"]  # the device moved
    assert r.eval("presence_refresh", [p, watchers], ["s1", 30000, now + 44000]) == [b"elsewhere"]
    assert r.call("GET", p) == b"s2|%d" % (now + 43000)  # left as s2's


if __name__ == "__main__":
    harness.run(dict(globals()))
