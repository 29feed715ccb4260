"""The handoff wire protocol, written from docs/protocol.md for the tests.

It is deliberately a second, independent implementation: when it and the
daemon agree, the document is right too.
"""

import socket
import ssl

# Message types.
ALLOC_REQ, ALLOC_RESP, HELLO, WELCOME, PING, PONG, SEND, SEND_ACK = 1, 2, 3, 4, 5, 6, 7, 8
DELIVER, DELIVER_ACK, GOAWAY, ERROR, REGISTER, REGISTER_ACK = 9, 10, 11, 12, 13, 14
PRESENCE_REQ, PRESENCE = 15, 16
SUBSCRIBE, SUBSCRIPTION, WAKE, WAKE_ACK = 17, 18, 19, 20
TYPE_MAX = WAKE_ACK  # past it, a type no server knows
CRITICAL = 0x01

# Tags: (name, kind) where kind is "u" (varint), "s" (UTF-8) or "b" (bytes).
TAGS = {
    1: ("token", "s"), 2: ("version_min", "u"), 3: ("version_max", "u"), 4: ("version", "u"),
    5: ("id", "u"), 6: ("to", "s"), 7: ("from", "s"), 8: ("seq", "u"), 9: ("ttl", "u"),
    10: ("collapse", "s"), 11: ("payload", "b"), 12: ("status", "u"), 13: ("code", "u"),
    14: ("text", "s"), 15: ("heartbeat_ms", "u"), 16: ("timeout_ms", "u"), 17: ("window", "u"),
    18: ("max_frame", "u"), 19: ("address", "s"), 20: ("heartbeat_min_ms", "u"),
    21: ("heartbeat_max_ms", "u"), 22: ("backoff_base_ms", "u"), 23: ("backoff_cap_ms", "u"),
    24: ("upto", "u"), 25: ("stored_at_ms", "u"), 26: ("delivered_count", "u"),
    27: ("stored_count", "u"), 28: ("rejected_count", "u"), 29: ("server_id", "s"),
    30: ("key", "s"), 31: ("weight", "u"), 32: ("load", "u"), 33: ("draining", "u"),
    34: ("account", "s"), 35: ("device", "s"), 36: ("retry_ms", "u"), 37: ("refresh_ms", "u"),
    38: ("max_payload", "u"), 39: ("follow", "u"), 40: ("online", "u"), 41: ("count", "u"),
    42: ("features", "u"),
    43: ("api", "s"),
    44: ("peers", "s"),
    45: ("store_format", "s"),
    46: ("app", "s"),
    47: ("vapid_key", "b"),
    48: ("endpoint", "s"),
    49: ("urgency", "u"),
    50: ("remove", "u"),
    51: ("device_key", "b"),
    52: ("e2e", "u"),
    53: ("route", "s"),
    54: ("provider", "s"),
}
TAG_OF = {name: tag for tag, (name, _) in TAGS.items()}

# Error codes used by the tests.
ERR = {
    "bad_frame": 1, "frame_too_large": 2, "bad_field": 3, "missing_field": 4,
    "duplicate_field": 5, "unknown_critical": 6, "unexpected_type": 7, "unsupported_version": 8,
    "bad_token": 9, "token_expired": 10, "unknown_key": 11, "forbidden": 12, "bad_target": 13,
    "no_target": 14, "queue_full": 15, "store_full": 16, "store_unavailable": 17, "ttl_too_long": 18, "rate_limited": 19,
    "too_many_connections": 20, "timeout": 21, "replaced": 22,
    "shutting_down": 23, "internal": 24, "bad_ack": 25, "too_many_fields": 26, "auth_failed": 27, "no_server": 29,
    "payload_too_large": 30, "unknown_device": 31,
    "revoked": 32, "disconnected": 33, "wrong_server": 34, "account_full": 35, "too_many_subscriptions": 36,
}
DELIVERED, STORED, REJECTED = 0, 1, 2


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def read_varint(buf, pos):
    """Returns (value, new_pos) or None if buf ends inside the varint."""
    v = shift = 0
    while True:
        if pos >= len(buf):
            return None
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, pos


def field(tag, value):
    if isinstance(value, int):
        value = varint(value)
    elif isinstance(value, str):
        value = value.encode()
    return varint(tag) + varint(len(value)) + value


def frame(mtype, fields=(), flags=0, body=None):
    """fields: a list of (name or tag, value); body overrides them with raw bytes."""
    if body is None:
        body = b"".join(field(TAG_OF.get(k, k), v) for k, v in fields)
    return bytes([mtype, flags]) + varint(len(body)) + body


def parse_body(body):
    msg = {}
    pos = 0
    while pos < len(body):
        tag, pos = read_varint(body, pos)
        length, pos = read_varint(body, pos)
        value = body[pos:pos + length]
        pos += length
        name, kind = TAGS.get(tag, (str(tag), "b"))
        if kind == "u":
            value = read_varint(value, 0)[0]
        elif kind == "s":
            value = value.decode()
        if name == "address":
            msg.setdefault("address", []).append(value)
        else:
            msg[name] = value
    return msg


def take_frame(buf):
    """((type, fields), rest) when buf starts with a whole frame, else None."""
    hdr = read_varint(buf, 2) if len(buf) >= 3 else None
    if not hdr or len(buf) < hdr[1] + hdr[0]:
        return None
    length, start = hdr
    return (buf[0], parse_body(buf[start:start + length])), buf[start + length:]


def read_parsed(conn, take, timeout):
    """Reads conn.sock into conn.buf until take(conn.buf) finds a whole
    unit; returns it, or None when the connection closed."""
    conn.sock.settimeout(timeout)
    while True:
        got = take(conn.buf)
        if got:
            conn.buf = got[1]
            return got[0]
        try:
            chunk = conn.sock.recv(65536)
        except (ssl.SSLError, ConnectionResetError):
            return None
        if not chunk:
            return None
        conn.buf += chunk


def tls_socket(port, ca, timeout=5.0, ctx=None, session=None):
    """A TLS connection to 127.0.0.1:port, verified against ca (or made
    with ctx), offering session if given."""
    ctx = ctx or ssl.create_default_context(cafile=ca)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)


class Conn:
    """A raw TLS connection that speaks frames."""

    def __init__(self, port, ca, timeout=5.0, ctx=None, session=None):
        self.sock = tls_socket(port, ca, timeout, ctx, session)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, mtype, fields=(), flags=0):
        self.send_raw(frame(mtype, fields, flags))

    def recv(self, timeout=5.0):
        """Returns (type, fields) or None on a clean close."""
        return read_parsed(self, take_frame, timeout)

    def expect(self, mtype, timeout=5.0):
        got = self.recv(timeout)
        assert got is not None, "connection closed, expected type %d" % mtype
        assert got[0] == mtype, "expected type %d, got %r" % (mtype, got)
        return got[1]

    def expect_closed(self, timeout=5.0):
        got = self.recv(timeout)
        assert got is None, "expected a close, got %r" % (got,)

    def hello(self, token, heartbeat_ms=None):
        fields = [("token", token), ("version_min", 1), ("version_max", 1)]
        if heartbeat_ms:
            fields.append(("heartbeat_ms", heartbeat_ms))
        self.send(HELLO, fields)
        return self.expect(WELCOME)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def b64url(data):
    """base64url without padding (RFC 4648 section 5)."""
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(secret, account, device, expires_at, key_id="k1", issued_at_ms=None):
    """A device token as section 6 of docs/protocol.md describes it."""
    import hashlib
    import hmac

    claims = field(1, account) + field(2, device) + field(3, expires_at) + field(4, key_id)
    if issued_at_ms is not None:
        claims += field(5, issued_at_ms)
    signed = "hf1." + b64url(claims)
    mac = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return signed + "." + b64url(mac)


def allocate(port, ca, token):
    """Asks an allocator; returns its addresses, or raises with its ERROR."""
    conn = Conn(port, ca)
    try:
        conn.send(ALLOC_REQ, [("token", token)])
        got = conn.recv()
        assert got is not None, "allocator closed without answering"
        mtype, fields = got
        if mtype == ERROR:
            raise RuntimeError("allocator refused: code %d %s" % (fields["code"], fields.get("text")))
        assert mtype == ALLOC_RESP, got
        return fields["address"]
    finally:
        conn.close()
