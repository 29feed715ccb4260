"""A small WebSocket client (RFC 6455) over TLS for the tests, written from
the RFC: the opening handshake, masked frames, fragments and control
frames, and handoff frames carried in binary messages."""

import base64
import hashlib
import os
import struct

import hfwire

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0, 1, 2, 8, 9, 10


def request(path="/handoff", origin=None, key=None, version="13", method="GET", extra=""):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: " + version]
    if origin:
        lines.append("Origin: " + origin)
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode(), key


def frame(opcode, payload=b"", fin=True, mask=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def take_ws_frame(buf):
    """((fin, opcode, payload), rest) when buf starts with a whole server
    frame, else None."""
    if len(buf) < 2:
        return None
    assert not buf[1] & 0x80, "a server frame was masked"
    n, pos = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack(">H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack(">Q", buf[2:10])[0], 10
    if len(buf) < pos + n:
        return None
    return (bool(buf[0] & 0x80), buf[0] & 0x0F, buf[pos:pos + n]), buf[pos + n:]


class Ws:
    """One WebSocket connection; upgrade() says how the server answered."""

    def __init__(self, port, ca, timeout=5.0):
        self.sock = hfwire.tls_socket(port, ca, timeout)
        self.buf = b""
        self.frames = b""  # handoff frames received, not yet parsed

    def upgrade(self, raw_request=None, **kw):
        """Sends the opening request; returns (status, headers, body)."""
        data, key = request(**kw) if raw_request is None else (raw_request, None)
        self.sock.sendall(data)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status == 101 and key is not None:
            want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            assert headers.get("sec-websocket-accept") == want, headers
        body = b""
        if status != 101:
            body = self.buf
            self.buf = b""
        return status, headers, body

    def send_frame(self, opcode, payload=b"", fin=True, mask=True):
        self.sock.sendall(frame(opcode, payload, fin, mask))

    def recv_frame(self, timeout=5.0):
        """(fin, opcode, payload), or None when the connection closed."""
        return hfwire.read_parsed(self, take_ws_frame, timeout)

    def send(self, mtype, fields=()):
        """One handoff frame as one binary message."""
        self.send_frame(BINARY, hfwire.frame(mtype, fields))

    def recv(self, timeout=5.0):
        """The next handoff frame (type, fields), or None on a close."""
        while True:
            got = hfwire.take_frame(self.frames)
            if got:
                self.frames = got[1]
                return got[0]
            got = self.recv_frame(timeout)
            if got is None or got[1] == CLOSE:
                return None
            if got[1] in (BINARY, CONT):
                self.frames += got[2]

    def expect(self, mtype, timeout=5.0):
        got = self.recv(timeout)
        assert got is not None, "closed, expected type %d" % mtype
        assert got[0] == mtype, "expected type %d, got %r" % (mtype, got)
        return got[1]

    def expect_close(self, code, timeout=5.0):
        """The server's close frame with this code, then the end."""
        while True:
            got = self.recv_frame(timeout)
            assert got is not None, "closed without a close frame"
            if got[1] == CLOSE:
                assert struct.unpack(">H", got[2][:2])[0] == code, got
                return

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
