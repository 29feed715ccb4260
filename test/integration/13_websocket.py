"""13: browsers over WebSocket (listen.websocket): the upgrade, framing per
RFC 6455, and delivery between WebSocket and plain TLS devices."""

import json
import struct

import harness
import hfwire
import wsclient
from harness import Relay
from wsclient import Ws

ORIGIN = "https://app.example"


def ws_relay(**settings):
    settings.setdefault("listen.websocket", "127.0.0.1:%d" % harness.free_port())
    settings.setdefault("websocket.origins", [ORIGIN])
    relay = Relay(**settings).start()
    relay.ws_port = int(relay.settings["listen.websocket"].rsplit(":", 1)[1])
    return relay


def browser(relay, account="alice", device="pc"):
    ws = Ws(relay.ws_port, relay.ca)
    status, _, body = ws.upgrade(origin=ORIGIN)
    assert status == 101, (status, body)
    ws.send(hfwire.HELLO, [("token", relay.quick_token(account, device)), ("version_min", 1), ("version_max", 1)])
    ws.expect(hfwire.WELCOME)
    return ws


def test_browser_and_tls_device_exchange_both_ways():
    relay = ws_relay()
    pc = browser(relay)
    phone = relay.conn()
    phone.hello(relay.quick_token("alice", "phone"))
    pc.send(hfwire.SEND, [("to", "phone"), ("id", 1), ("payload", b"https://example.org/a")])
    got = phone.expect(hfwire.DELIVER)
    assert got["payload"] == b"https://example.org/a" and got["from"] == "pc"
    phone.send(hfwire.DELIVER_ACK, [("upto", got["seq"])])
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.DELIVERED
    phone.send(hfwire.SEND, [("to", "pc"), ("id", 1), ("payload", b"back")])
    got = pc.expect(hfwire.DELIVER)
    assert got["payload"] == b"back"
    pc.send(hfwire.DELIVER_ACK, [("upto", got["seq"])])
    assert phone.expect(hfwire.SEND_ACK)["status"] == hfwire.DELIVERED


def test_fragments_and_pings_between_them():
    relay = ws_relay()
    pc = browser(relay)
    data = hfwire.frame(hfwire.PING, [("id", 77)]) + hfwire.frame(hfwire.SEND, [("to", "tablet"), ("id", 2),
                                                                                 ("payload", b"x" * 300)])
    pc.send_frame(wsclient.BINARY, data[:5], fin=False)
    pc.send_frame(wsclient.PING, b"are you there")
    fin, opcode, payload = pc.recv_frame()
    assert (fin, opcode, payload) == (True, wsclient.PONG, b"are you there")
    pc.send_frame(wsclient.CONT, data[5:200], fin=False)
    pc.send_frame(wsclient.CONT, data[200:], fin=True)
    assert pc.expect(hfwire.PONG)["id"] == 77
    assert pc.expect(hfwire.SEND_ACK)["status"] == hfwire.STORED


def test_a_run_of_pings_gets_one_pong_and_a_flood_is_refused():
    relay = ws_relay(**{"limits.frame_rate": 5, "limits.frame_burst": 50})
    pc = browser(relay)
    # 40 pings in one write: one answer, the latest's payload.
    pc.sock.sendall(b"".join(wsclient.frame(wsclient.PING, b"p%d" % i) for i in range(40)))
    pc.send(hfwire.PING, [("id", 5)])
    got = []
    while True:
        fin, opcode, payload = pc.recv_frame()
        if opcode == wsclient.PONG:
            got.append(payload)
        elif opcode == wsclient.BINARY:
            break
    assert got == [b"p39"], got
    # Pings cost frames: past limits.frame_burst, the connection goes.
    pc.sock.sendall(b"".join(wsclient.frame(wsclient.PING, b"f") for _ in range(100)))
    pc.expect_close(1008)
    assert relay.metric('handoff_limit_hits_total{limit="limits.frame_rate"}') >= 1


def test_framing_errors_close_with_the_rfc_codes():
    relay = ws_relay(**{"limits.max_frame": "1k"})
    cases = [
        (lambda ws: ws.send_frame(wsclient.BINARY, b"\x05\x00\x00", mask=False), 1002),  # unmasked
        (lambda ws: ws.send_frame(wsclient.TEXT, b"hello"), 1003),
        (lambda ws: ws.send_frame(wsclient.BINARY, b"y" * 2000), 1009),  # over max_frame
        (lambda ws: ws.send_frame(wsclient.CONT, b"z"), 1002),  # nothing to continue
        (lambda ws: ws.sock.sendall(b"\x83\x80abcd"), 1002),  # reserved opcode
    ]
    for act, code in cases:
        ws = browser(relay)
        act(ws)
        ws.expect_close(code)
        assert ws.recv_frame(timeout=5) is None, "still open after close %d" % code
    # And the server is still serving.
    pc = browser(relay)
    pc.send(hfwire.PING, [("id", 1)])
    pc.expect(hfwire.PONG)


def test_close_handshake_is_answered():
    relay = ws_relay()
    pc = browser(relay)
    pc.send_frame(wsclient.CLOSE, struct.pack(">H", 1000) + b"bye")
    pc.expect_close(1000)
    assert pc.recv_frame(timeout=5) is None


def test_bad_upgrades_get_http_errors():
    relay = ws_relay(**{"websocket.max_request": "1k"})
    cases = [
        (dict(path="/elsewhere", origin=ORIGIN), 404),
        (dict(origin=ORIGIN, key="c2hvcnQ="), 400),
        (dict(origin=ORIGIN, version="8"), 426),
        (dict(origin="https://evil.example"), 403),
        (dict(origin=ORIGIN, method="POST"), 405),
        (dict(origin=ORIGIN, extra="X-Padding: %s\r\n" % ("p" * 2000)), 431),
    ]
    for kw, want in cases:
        ws = Ws(relay.ws_port, relay.ca)
        status, headers, body = ws.upgrade(**kw)
        assert status == want, (kw, status, body)
        if want == 426:
            assert headers.get("sec-websocket-version") == "13", headers
        ws.close()
    garbage = Ws(relay.ws_port, relay.ca)
    assert garbage.upgrade(raw_request=b"HELLO THERE\r\n\r\n")[0] == 400
    # No Origin: not a browser; the token decides.
    ws = Ws(relay.ws_port, relay.ca)
    assert ws.upgrade()[0] == 101



def allocate(port, ca, token, origin=ORIGIN):
    """GET /allocate over TLS: (status, headers, JSON)."""
    ws = Ws(port, ca)
    raw = ("GET /allocate?token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" %
           (token, "Origin: %s\r\n" % origin if origin else "")).encode()
    status, headers, body = ws.upgrade(raw_request=raw)
    while len(body) < int(headers.get("content-length", "0")):
        chunk = ws.sock.recv(65536)
        if not chunk:
            break
        body += chunk
    ws.close()
    return status, headers, json.loads(body)


def test_browsers_get_wss_urls_from_a_standalone_relay():
    relay = ws_relay()
    token = relay.quick_token("alice", "pc")
    status, headers, answer = allocate(relay.ws_port, relay.ca, token)
    assert status == 200, answer
    assert answer["addresses"] == ["wss://127.0.0.1:%d/handoff" % relay.ws_port], answer
    assert headers["access-control-allow-origin"] == ORIGIN and headers["vary"] == "Origin", headers
    status, headers, answer = allocate(relay.ws_port, relay.ca, token + "x")
    assert (status, answer["error"]) == (401, "bad_token"), answer
    ws = Ws(relay.ws_port, relay.ca)
    status, _, _ = ws.upgrade(raw_request=("GET /allocate?token=%s HTTP/1.1\r\nHost: x\r\n"
                                           "Origin: https://evil.example\r\n\r\n" % token).encode())
    assert status == 403


def test_an_allocator_ranks_servers_for_browsers_as_for_devices():
    alloc = Relay("allocator", server_id="a1", **{"allocator.refresh_interval": "500ms",
                                                  "listen.websocket": "127.0.0.1:%d" % harness.free_port(),
                                                  "websocket.origins": [ORIGIN]}).start()
    alloc_ws = int(alloc.settings["listen.websocket"].rsplit(":", 1)[1])
    servers = []
    for i in range(3):
        s = Relay("server", share=alloc, server_id="s%d" % (i + 1),
                  **{"register.allocators": ["127.0.0.1:%d" % alloc.alloc_port],
                     "listen.websocket": "127.0.0.1:%d" % harness.free_port()}).start()
        servers.append(s)
        harness.wait_until(lambda: "server %s registered" % s.server_id in alloc.log(), 10, "registered")
    wss_of = {s.address(): "wss://%s/handoff" % s.settings["listen.websocket"] for s in servers}
    for account in ("alice", "bob", "carol", "dave"):
        token = alloc.quick_token(account, "pc")
        ranked = hfwire.allocate(alloc.alloc_port, alloc.ca, token)
        status, _, answer = allocate(alloc_ws, alloc.ca, token)
        assert status == 200, answer
        assert answer["addresses"] == [wss_of[a] for a in ranked], (answer, ranked)
    # The allocator itself holds no devices.
    ws = Ws(alloc_ws, alloc.ca)
    assert ws.upgrade(origin=ORIGIN)[0] == 404

if __name__ == "__main__":
    harness.run(dict(globals()))
