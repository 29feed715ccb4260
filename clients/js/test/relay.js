// A real handoffd for Node tests (this client's, and the browser demo's in
// test/browser): standalone, memory store, a WebSocket listener, on free
// loopback ports; and tokens minted the way a web app's backend would
// (docs/browser.md). dir holds the throwaway certificates and token secret
// that `handoffd --dev -t` wrote.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';

const canListen = (port) => new Promise((resolve) => {
  const s = net.createServer().once('error', () => resolve(false))
    .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

// A free port below Linux's ephemeral range (32768-), so no outgoing
// connection takes it between here and the daemon's bind.
export async function freePort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (await canListen(port)) return port;
  }
}

const accepting = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
  s.on('error', () => resolve(false));
});

// Waits (up to 10 s) until something accepts on the port.
export async function waitForPort(port, what) {
  for (let i = 0; i < 100; i++) {
    if (await accepting(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start on port ${port}`);
}

// Starts handoffd; origins: websocket.origins; limits and allocator: more
// of those sections' keys ("max_connections_per_address = 2;"). Returns
// its ports, the browser allocation URL and stop().
// tokenKeys: more tokens.keys entries ('{ id = "web"; algorithm = ...; }').
// push: Web Push too, on an API listener (apiPort) with dir's api.secret
// and push.secret. wake: wake-ups through Web Push with dir's
// wake-vapid.pem, to endpoints under wakeAllow (URL prefixes) too.
export async function startRelay({ dir, build, origins = ['*'], limits = '', allocator = '', tokenKeys = '',
  push = false, wake = false, wakeAllow = [] }) {
  const [wsPort, devicePort, allocPort, apiPort] = [await freePort(), await freePort(), await freePort(),
    await freePort()];
  const list = origins.map((o) => `"${o}"`).join(', ');
  const pushConfig = push ? `
    api = { keys = ( { id = "js"; secret_file = "${dir}/api.secret"; scope = "admin"; } ); };
    push = { key_file = "${dir}/push.secret"; };` : '';
  const wakeConfig = wake ? `
    wake = { vapid_key_file = "${dir}/wake-vapid.pem";
             allow_endpoints = [ ${wakeAllow.map((u) => `"${u}"`).join(', ')} ]; };` : '';
  writeFileSync(`${dir}/relay.conf`, `
    role = "standalone"; server_id = "js";${pushConfig}${wakeConfig}
    listen = { device = "127.0.0.1:${devicePort}"; allocator = "127.0.0.1:${allocPort}";
               websocket = "127.0.0.1:${wsPort}"; ${push ? `api = "127.0.0.1:${apiPort}";` : ''} };
    websocket = { origins = [ ${list} ]; };
    metrics = { listen = ""; };
    tls = { certificate = "${dir}/server.pem"; key = "${dir}/server.key"; };
    tokens = { keys = ( { id = "k1"; secret_file = "${dir}/token.secret"; } ${tokenKeys} ); };
    store = { module = "memory"; };
    limits = { ${limits} };
    allocator = { ${allocator} };
  `);
  const daemon = spawn(`${build}/handoffd`, ['-f', '-c', `${dir}/relay.conf`], { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitForPort(wsPort, 'handoffd');
  return {
    wsPort, devicePort, allocPort, apiPort,
    relayUrl: `https://127.0.0.1:${wsPort}`,
    allocateUrl: `https://127.0.0.1:${wsPort}/allocate`,
    stop: () => daemon.kill(),
  };
}

// protocol.md section 6: hf1.b64url(claims).b64url(HMAC-SHA256).
export function mintToken(dir, account, device) {
  const varint = (n) => {
    const out = [];
    do { let b = n % 128; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n);
    return Buffer.from(out);
  };
  const field = (tag, value) => {
    const v = typeof value === 'number' ? varint(value) : Buffer.from(value);
    return Buffer.concat([varint(tag), varint(v.length), v]);
  };
  const claims = Buffer.concat([field(1, account), field(2, device),
    field(3, Math.floor(Date.now() / 1000) + 3600), field(4, 'k1')]);
  const head = 'hf1.' + claims.toString('base64url');
  const secret = readFileSync(`${dir}/token.secret`, 'utf8').trim();
  return head + '.' + createHmac('sha256', secret).update(head).digest('base64url');
}
