// The JavaScript client against a real handoffd (standalone, memory store,
// WebSocket listener) started by the test; tokens minted here, as a web
// app's backend would (docs/browser.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import WebSocket from 'ws';
import { HandoffClient, HandoffError } from '../src/index.js';

const dir = process.env.HF_TEST_DIR;
const build = process.env.HANDOFF_BUILD;
let daemon, wsPort, allocateUrl;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// protocol.md section 6: hf1.b64url(claims).b64url(HMAC-SHA256).
function mintToken(account, device) {
  const field = (tag, value) => {
    const v = typeof value === 'number' ? varint(value) : Buffer.from(value);
    return Buffer.concat([varint(tag), varint(v.length), v]);
  };
  const varint = (n) => {
    const out = [];
    do { let b = n % 128; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n);
    return Buffer.from(out);
  };
  const claims = Buffer.concat([field(1, account), field(2, device),
    field(3, Math.floor(Date.now() / 1000) + 3600), field(4, 'k1')]);
  const head = 'hf1.' + claims.toString('base64url');
  const secret = readFileSync(`${dir}/token.secret`, 'utf8').trim();
  return head + '.' + createHmac('sha256', secret).update(head).digest('base64url');
}

function client(device, options = {}) {
  const c = new HandoffClient({ allocators: [allocateUrl], token: mintToken('alice', device), WebSocket, ...options });
  c.start();
  return c;
}

// The next event of a type (matching predicate); rejects if the client
// reports an error first.
function once(target, type, predicate = () => true) {
  return new Promise((resolve, reject) => {
    const listener = (event) => {
      if (!predicate(event.detail)) return;
      target.removeEventListener(type, listener);
      resolve(event.detail);
    };
    target.addEventListener(type, listener);
    if (type !== 'error') target.addEventListener('error', (event) => reject(event.detail));
  });
}

const connected = (c) => once(c, 'state', (s) => s === 'connected');
const limit = { timeout: 20000 };

before(async () => {
  wsPort = await freePort();
  const [devicePort, allocPort] = [await freePort(), await freePort()];
  allocateUrl = `https://127.0.0.1:${wsPort}/allocate`;
  writeFileSync(`${dir}/js.conf`, `
    role = "standalone"; server_id = "js";
    listen = { device = "127.0.0.1:${devicePort}"; allocator = "127.0.0.1:${allocPort}";
               websocket = "127.0.0.1:${wsPort}"; };
    websocket = { origins = [ "*" ]; };
    metrics = { listen = ""; };
    tls = { certificate = "${dir}/server.pem"; key = "${dir}/server.key"; };
    tokens = { keys = ( { id = "k1"; secret_file = "${dir}/token.secret"; } ); };
    store = { module = "memory"; };
  `);
  daemon = spawn(`${build}/handoffd`, ['-f', '-c', `${dir}/js.conf`], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => {
      const s = net.connect(wsPort, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('handoffd did not start');
});

after(() => daemon?.kill());

test('the token minted here is the one the token format describes', limit, () => {
  assert.match(mintToken('alice', 'pc'), /^hf1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
});

test('a live send is delivered and the other device gets it', limit, async () => {
  const phone = client('phone');
  const pc = client('pc');
  await Promise.all([connected(phone), connected(pc)]);
  const got = once(phone, 'message');
  assert.equal(await pc.send('phone', 'https://example.org/js'), 'delivered');
  const msg = await got;
  assert.equal(msg.from, 'pc');
  assert.equal(msg.text(), 'https://example.org/js');
  pc.stop();
  phone.stop();
});

test('a send to an absent device is stored and arrives when it connects', limit, async () => {
  const pc = client('pc');
  assert.equal(await pc.send('tablet', 'for later', { ttl: 60 }), 'stored');
  const tablet = client('tablet');
  const msg = await once(tablet, 'message');
  assert.equal(msg.text(), 'for later');
  pc.stop();
  tablet.stop();
});

test('a refused send rejects with the protocol error code', limit, async () => {
  const pc = client('pc');
  await assert.rejects(pc.send('not a name', 'x'), (e) => e instanceof HandoffError && e.code === 'bad_target');
  pc.stop();
});

test('a bad token stops the client with an error event', limit, async () => {
  const c = new HandoffClient({ allocators: [allocateUrl], token: 'hf1.bad.token', WebSocket });
  const error = once(c, 'error');
  c.start();
  assert.equal((await error).code, 'bad_token');
  assert.equal(c.state, 'stopped');
});

test('unanswered sends go again after a reconnect, and are answered once', limit, async () => {
  const pc = client('pc', { connectTimeoutMs: 2000 });
  await connected(pc);
  // The sends are written, then the TCP connection under the client is cut
  // (found among the process's sockets) before any SEND_ACK can be read:
  // the client must send them again on its next connection.
  const reconnected = connected(pc);
  const sent = [pc.send('phone2', 'resent'), pc.send('phone2', 'after')];
  const sockets = process._getActiveHandles().filter((h) => h instanceof net.Socket && h.remotePort === wsPort);
  assert.ok(sockets.length > 0, 'the client socket was found');
  for (const socket of sockets) socket.destroy();
  await reconnected;
  assert.deepEqual(await Promise.all(sent), ['stored', 'stored']);
  // Queued after them: had the resends been stored again (new ids), two
  // copies would come before it.
  assert.equal(await pc.send('phone2', 'marker'), 'stored');
  const phone = client('phone2');
  // Messages that arrive together are dispatched in one go: collect them
  // with one listener.
  const texts = await new Promise((resolve) => {
    const got = [];
    phone.addEventListener('message', (e) => { got.push(e.detail.text()); if (got.length === 3) resolve(got); });
  });
  assert.deepEqual(texts, ['resent', 'after', 'marker']);
  pc.stop();
  phone.stop();
});
