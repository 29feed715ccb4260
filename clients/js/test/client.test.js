// The JavaScript client against a real handoffd (standalone, memory store,
// WebSocket listener) started by the test; tokens minted here, as a web
// app's backend would (docs/browser.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import WebSocket from 'ws';
import { HandoffClient, HandoffError, PushKeys, tokenClaims } from '../src/index.js';
import webpush from 'web-push';
import { startRelay, mintToken as mint } from './relay.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { SignJWT, generateKeyPair, exportSPKI } from 'jose';

const dir = process.env.HF_TEST_DIR;
const build = process.env.HANDOFF_BUILD;
let relay, wsPort, allocateUrl;

const mintToken = (account, device) => mint(dir, account, device);

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
  relay = await startRelay({ dir, build });
  ({ wsPort, allocateUrl } = relay);
});

after(() => relay?.stop());

test('tokenClaims reads the claims of tokens minted here and by the CLI', limit, () => {
  const cli = execFileSync(`${build}/handoff`, ['token', '--secret-file', `${dir}/token.secret`,
    '--account', 'alice', '--device', 'phone', '--ttl', '2h'], { encoding: 'utf8' }).trim();
  const now = Date.now() / 1000;
  for (const [token, device, ttl] of [[mintToken('alice', 'pc'), 'pc', 3600], [cli, 'phone', 7200]]) {
    const claims = tokenClaims(token);
    assert.equal(claims.account, 'alice');
    assert.equal(claims.device, device);
    assert.ok(Math.abs(claims.expiresAt - now - ttl) < 60, `expiresAt ${claims.expiresAt}`);
  }
  // handoff token writes when it minted the token (revocation compares it).
  assert.ok(Math.abs(tokenClaims(cli).issuedAtMs - Date.now()) < 60000);
  assert.throws(() => tokenClaims('hf1.AAAA.x'), TypeError);
  assert.throws(() => tokenClaims('not a token'), TypeError);
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

test('a message id is a decimal string, whatever its size', limit, async () => {
  const phone = client('phone');
  await connected(phone);
  const got = once(phone, 'message');
  // libhandoff's ids are 62-bit: past what a JavaScript number holds.
  execFileSync(`${build}/handoff`, ['--allocator', `127.0.0.1:${relay.allocPort}`, '--ca', `${dir}/ca.pem`,
    '--token', mintToken('alice', 'cli'), 'send', '--to', 'phone', 'from the CLI'], { encoding: 'utf8' });
  const msg = await got;
  assert.equal(typeof msg.id, 'string');
  assert.match(msg.id, /^[0-9]+$/);
  assert.ok(BigInt(msg.id) > BigInt(Number.MAX_SAFE_INTEGER), msg.id);
  assert.doesNotThrow(() => JSON.stringify(msg));
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

// A JWT as a web app's backend mints it with npm jose.
async function joseToken(key, alg, kid, device, exp = Math.floor(Date.now() / 1000) + 3600) {
  return new SignJWT({ device }).setProtectedHeader({ alg, kid }).setSubject('alice').setIssuedAt()
    .setExpirationTime(exp).sign(key);
}

test('JWTs minted with jose (HS256 under the secret, ES256 under a key pair) connect', limit, async () => {
  const secret = new TextEncoder().encode(readFileSync(`${dir}/token.secret`, 'utf8').trim());
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  writeFileSync(`${dir}/web.pem`, await exportSPKI(publicKey));
  const jwtRelay = await startRelay({ dir, build,
    tokenKeys: `, { id = "web"; algorithm = "ES256"; public_key_file = "${dir}/web.pem"; }` });
  try {
    for (const token of [await joseToken(secret, 'HS256', 'k1', 'hs'), await joseToken(privateKey, 'ES256', 'web', 'es')]) {
      const c = new HandoffClient({ allocators: [jwtRelay.allocateUrl], token, WebSocket });
      const up = connected(c);
      c.start();
      await up;
      assert.equal(tokenClaims(token).account, 'alice');
      c.stop();
    }
    const forged = await joseToken(privateKey, 'ES256', 'k1', 'x'); // names the HS256 key
    const c = new HandoffClient({ allocators: [jwtRelay.allocateUrl], token: forged, WebSocket });
    const error = once(c, 'error');
    c.start();
    assert.equal((await error).code, 'bad_token');
  } finally {
    jwtRelay.stop();
  }
});

test('a token provider is asked again after token_expired, and the client connects', limit, async () => {
  const secret = new TextEncoder().encode(readFileSync(`${dir}/token.secret`, 'utf8').trim());
  let asked = 0;
  const provider = async () => {
    asked++;
    const exp = Math.floor(Date.now() / 1000) + (asked === 1 ? -3600 : 3600); // the first one long expired
    return joseToken(secret, 'HS256', 'k1', 'renewed', exp);
  };
  const c = new HandoffClient({ allocators: [allocateUrl], token: provider, WebSocket, backoffBaseMs: 50 });
  const errors = [];
  c.addEventListener('error', (e) => errors.push(e.detail));
  const up = once(c, 'state', (st) => st === 'connected');
  c.start();
  await up;
  assert.ok(asked >= 2, `the provider was asked ${asked} times`);
  assert.deepEqual(errors, []);
  assert.equal(c.lastError.code, 'token_expired');
  c.stop();
});

test('a bad token stops the client with an error event', limit, async () => {
  const c = new HandoffClient({ allocators: [allocateUrl], token: 'hf1.bad.token', WebSocket });
  const error = once(c, 'error');
  c.start();
  assert.equal((await error).code, 'bad_token');
  assert.equal(c.state, 'stopped');
});

// The client's sockets to the relay, as libuv holds them.
const relaySockets = () => process._getActiveHandles().filter((h) => h instanceof net.Socket && h.remotePort === wsPort);

test('unanswered sends go again after a reconnect, and are answered once', limit, async () => {
  const pc = client('pc', { connectTimeoutMs: 2000 });
  await connected(pc);
  // The sends are written, then the TCP connection under the client is cut
  // (found among the process's sockets) before any SEND_ACK can be read:
  // the client must send them again on its next connection.
  const reconnected = connected(pc);
  const sent = [pc.send('phone2', 'resent'), pc.send('phone2', 'after')];
  const sockets = relaySockets();
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

test('a message dispatched before its connection was lost is not dispatched again', limit, async () => {
  const pc = client('pc4');
  await connected(pc);
  const pcSockets = new Set(relaySockets());
  const phone = client('phone4', { connectTimeoutMs: 2000 });
  await connected(phone);
  const phoneSockets = relaySockets().filter((s) => !pcSockets.has(s));
  assert.ok(phoneSockets.length > 0, 'the phone socket was found');
  const traces = [];
  phone.addEventListener('trace', (e) => traces.push(e.detail));
  // The connection is cut inside the listener of "one", before the
  // DELIVER_ACK (written in a microtask) leaves: the server delivers "one"
  // again on the next connection.
  let reconnected;
  const texts = [];
  const cut = new Promise((resolveCut) => {
    phone.addEventListener('message', (e) => {
      texts.push(e.detail.text());
      if (texts.length > 1) return;
      reconnected = connected(phone);
      for (const s of phoneSockets) s.destroy();
      resolveCut();
    });
  });
  const first = pc.send('phone4', 'one');
  await cut;
  await reconnected;
  const got = once(phone, 'message');
  assert.equal(await pc.send('phone4', 'two'), 'delivered');
  assert.equal((await got).text(), 'two');
  assert.deepEqual(texts, ['one', 'two']);
  assert.ok(['stored', 'delivered'].includes(await first));
  assert.ok(traces.some((t) => t.includes('again: dispatched before')), traces.join('\n'));
  pc.stop();
  phone.stop();
});

test('devices() lists the account, and a follower hears devices come and go', limit, async () => {
  const phone = client('phone5');
  await connected(phone);
  const list = await phone.devices({ follow: true });
  assert.deepEqual(list.find((d) => d.device === 'phone5'), { device: 'phone5', online: true });
  const came = once(phone, 'presence', (p) => p.device === 'pc5');
  const pc = client('pc5');
  assert.deepEqual(await came, { device: 'pc5', online: true });
  const left = once(phone, 'presence', (p) => p.device === 'pc5' && !p.online);
  pc.stop();
  assert.deepEqual(await left, { device: 'pc5', online: false });
  const again = await phone.devices();
  assert.deepEqual(again.filter((d) => d.device.endsWith('5')),
    [{ device: 'pc5', online: false }, { device: 'phone5', online: true }]);
  phone.stop();
  await assert.rejects(phone.devices(), (e) => e.code === 'not_connected');
});

test('every state change carries its reason; nothing listening is "refused", and it backs off', limit, async () => {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve)); // now nothing listens there
  const c = new HandoffClient({ allocators: [`https://127.0.0.1:${port}/allocate`], token: mintToken('alice', 'x'),
    WebSocket, backoffBaseMs: 20, backoffCapMs: 50 });
  const backingOff = new Promise((resolve) => c.addEventListener('state', (e) => {
    if (e.detail === 'backing-off') resolve(e.reason);
  }));
  c.start();
  const reason = await backingOff;
  assert.equal(reason.code, 'refused');
  assert.match(reason.text, new RegExp(`allocator https://127.0.0.1:${port}/allocate: connection refused`));
  assert.deepEqual(c.lastError, reason);
  c.stop();
});

test('a full address: the refusal says why, and the client waits its retry_ms before each retry', limit, async () => {
  const full = await startRelay({ dir, build, limits: 'max_connections_per_address = 2;',
    allocator: 'backoff_base = "1s";' });
  const at = (device) => {
    const c = new HandoffClient({ allocators: [full.allocateUrl], token: mintToken('alice', device), WebSocket });
    c.start();
    return c;
  };
  const held = [at('full1'), at('full2')];
  try {
    await Promise.all(held.map(connected));
    const third = at('full3');
    const refusals = [], waits = [];
    const twice = new Promise((resolve) => third.addEventListener('trace', (e) => {
      const wait = /^backing off (\d+) ms$/.exec(e.detail);
      if (wait && refusals.length) waits.push(Number(wait[1]));
      if (/refused: too_many_connections/.test(e.detail)) refusals.push(e.detail);
      if (refusals.length === 2) resolve();
    }));
    await twice;
    third.stop();
    assert.equal(third.lastError.code, 'too_many_connections');
    assert.match(refusals[0], /limits.max_connections_per_address reached/);
    assert.ok(waits.length >= 1 && waits.every((w) => w >= 1000), `waits ${waits}`);
  } finally {
    held.forEach((c) => c.stop());
    full.stop();
  }
});

test('a refused token is the last error, and an oversized payload fails alone', limit, async () => {
  const bad = new HandoffClient({ allocators: [allocateUrl], token: 'hf1.bad.token', WebSocket });
  const error = once(bad, 'error');
  bad.start();
  await error;
  assert.equal(bad.lastError.code, 'bad_token');
  const pc = client('pc6');
  const phone = client('phone6');
  await Promise.all([connected(pc), connected(phone)]);
  const texts = [];
  const both = new Promise((resolve) => phone.addEventListener('message', (e) => {
    texts.push(e.detail.text());
    if (texts.length === 2) resolve();
  }));
  const first = pc.send('phone6', 'before');
  await assert.rejects(pc.send('phone6', 'x'.repeat(300000)), (e) => e.code === 'payload_too_large');
  const last = pc.send('phone6', 'after');
  assert.equal(await first, 'delivered');
  assert.equal(await last, 'delivered');
  await both;
  assert.deepEqual(texts, ['before', 'after']);
  pc.stop();
  phone.stop();
});

test('a certificate from another CA stops the client with code certificate', limit, async () => {
  // A second relay with a throwaway CA of its own, which Node does not trust.
  const otherDir = execFileSync('mktemp', ['-d', '/tmp/handoff-js-ca.XXXXXX'], { encoding: 'utf8' }).trim();
  execFileSync(`${build}/handoffd`, ['--dev', '--dev-dir', otherDir, '-t']);
  const other = await startRelay({ dir: otherDir, build });
  try {
    const c = new HandoffClient({ allocators: [other.allocateUrl], token: mintToken('alice', 'x'), WebSocket });
    const error = once(c, 'error');
    c.start();
    assert.equal((await error).code, 'certificate');
    assert.match(c.lastError.text, /certificate verify failed/);
    assert.equal(c.state, 'stopped');
  } finally {
    other.stop();
    execFileSync('rm', ['-rf', otherDir]);
  }
});

// Web Push (docs/push.md): npm web-push as the application server.
test('Web Push: a push from npm web-push is decrypted with WebCrypto, and the key file is the CLI\'s', limit,
  async () => {
    const pushRelay = await startRelay({ dir, build, push: true });
    try {
      const keys = await PushKeys.generate({ extractable: true });
      const token = mint(dir, 'alice', 'phone');
      const phone = new HandoffClient({ allocators: [pushRelay.allocateUrl], token, WebSocket, pushKeys: keys });
      phone.start();
      await connected(phone);
      const vapid = webpush.generateVAPIDKeys();
      const sub = await phone.subscribe({ app: 'mastodon', applicationServerKey: vapid.publicKey });
      assert.match(sub.endpoint, new RegExp(`^https://127\\.0\\.0\\.1:${pushRelay.apiPort}/push/`));
      assert.deepEqual(Object.keys(sub.keys).sort(), ['auth', 'p256dh']);
      assert.deepEqual(await phone.subscriptions(), [{ app: 'mastodon', endpoint: sub.endpoint }]);
      const vapidDetails = { subject: 'mailto:ops@example.org', ...vapid };
      const got = once(phone, 'message');
      const answer = await webpush.sendNotification(sub, 'a toot', { TTL: 60, urgency: 'high', vapidDetails });
      assert.equal(answer.statusCode, 201);
      const msg = await got;
      assert.deepEqual([msg.app, msg.urgency, msg.from, msg.text()], ['mastodon', 'high', '+mastodon', 'a toot']);
      // A push that does not decrypt (made for other keys) is refused, and
      // the next one still arrives, in order.
      const other = { ...sub, keys: { ...sub.keys, auth: 'AAAAAAAAAAAAAAAAAAAAAA' } };
      const next = once(phone, 'message');
      await webpush.sendNotification(other, 'for someone else', { TTL: 60, vapidDetails });
      await webpush.sendNotification(sub, 'the next toot', { TTL: 60, vapidDetails });
      assert.equal((await next).text(), 'the next toot');
      phone.stop();
      // The keys as the CLI's key file: handoff listen --keys decrypts
      // (and adds its signing pair, which the client keeps as it is).
      writeFileSync(`${dir}/phone.keys`, JSON.stringify(await keys.toJSON()));
      await webpush.sendNotification(sub, 'to the CLI', { TTL: 60, vapidDetails });
      const out = execFileSync(`${build}/handoff`, ['--allocator', `127.0.0.1:${pushRelay.allocPort}`, '--ca',
        `${dir}/ca.pem`, '--token', token, '--keys', `${dir}/phone.keys`, 'listen', '--count', '1', '--format',
        'json', '--timeout', '10'], { encoding: 'utf8' });
      assert.equal(JSON.parse(out).payload, 'to the CLI');
      // And back: keys read from the file decrypt in the client, and
      // written again keep what the CLI put there.
      const fromFile = await PushKeys.fromJSON(readFileSync(`${dir}/phone.keys`, 'utf8'));
      const cliFile = JSON.parse(readFileSync(`${dir}/phone.keys`, 'utf8'));
      assert.ok(cliFile.signing_public_key);
      assert.equal((await fromFile.toJSON()).signing_public_key, cliFile.signing_public_key);
      const again = new HandoffClient({ allocators: [pushRelay.allocateUrl], token, WebSocket, pushKeys: fromFile });
      again.start();
      await connected(again);
      const last = once(again, 'message');
      await webpush.sendNotification(sub, 'read from the file', { TTL: 60, vapidDetails });
      assert.equal((await last).text(), 'read from the file');
      await again.unsubscribe('mastodon');
      await assert.rejects(webpush.sendNotification(sub, 'gone', { TTL: 60, vapidDetails }),
        (e) => e.statusCode === 410);
      again.stop();
    } finally {
      pushRelay.stop();
    }
  });

// End-to-end messages (docs/protocol.md): the JS client and the handoff
// CLI, each with its own keys, both ways, and a changed key stopped.
test('end-to-end messages between the client and the CLI, and a changed key stops the send', limit, async () => {
  const cliArgs = (device, keys) => ['--allocator', `127.0.0.1:${relay.allocPort}`, '--ca', `${dir}/ca.pem`,
    '--token', mintToken('e2e', device), '--keys', `${dir}/${keys}`];
  const cli = (device, keys, ...args) => execFileSync(`${build}/handoff`, [...cliArgs(device, keys), ...args],
    { encoding: 'utf8' });
  cli('phone', 'e2e-phone.keys', 'ping'); // publishes its keys
  const keys = await PushKeys.generate({ extractable: true });
  const pc = new HandoffClient({ allocators: [allocateUrl], token: mintToken('e2e', 'pc'), WebSocket, pushKeys: keys });
  pc.start();
  await connected(pc);
  // JS to the CLI: the phone prints it, marked end to end.
  assert.equal(await pc.send('phone', 'from the page', { e2e: true }), 'stored');
  const printed = JSON.parse(cli('phone', 'e2e-phone.keys', 'listen', '--count', '1', '--timeout', '10', '--format',
    'json'));
  assert.deepEqual([printed.payload, printed.e2e], ['from the page', true]);
  // The CLI to JS: the page gets it decrypted and verified.
  const got = once(pc, 'message');
  cli('phone', 'e2e-phone.keys', 'send', '--e2e', '--to', 'pc', 'from the CLI');
  const msg = await got;
  assert.deepEqual([msg.text(), msg.e2e, msg.from], ['from the CLI', true, 'phone']);
  // The fingerprints agree.
  const list = await pc.deviceKeys();
  const phoneFp = cli('phone', 'e2e-phone.keys', 'fingerprint').trim();
  assert.equal(list.find((d) => d.device === 'phone').fingerprint, phoneFp);
  assert.match(await pc.fingerprint(), /^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
  // A reinstalled phone: the send stops with a keychange event, until verified.
  execFileSync('rm', [`${dir}/e2e-phone.keys`]);
  cli('phone', 'e2e-phone.keys', 'ping');
  const change = once(pc, 'keychange');
  await assert.rejects(pc.send('phone', 'not yet', { e2e: true }), (e) => e.code === 'key_changed');
  const newFp = cli('phone', 'e2e-phone.keys', 'fingerprint').trim();
  assert.equal((await change).fingerprint, newFp);
  assert.equal(await pc.verifyDevice('phone', newFp), true);
  assert.equal(await pc.send('phone', 'after verify', { e2e: true }), 'stored');
  pc.stop();
});

// Approvals (docs/protocol.md, "Approvals"): a reinstalled device's key
// compared once, on one device, and taken as verified by the others that
// trust it; libhandoff's (the CLI's) to the page, and the page's to it.
test('an approval from the CLI verifies a key on the page, and the page\'s on the CLI', limit, async () => {
  const cli = (device, ...args) => execFileSync(`${build}/handoff`, ['--allocator', `127.0.0.1:${relay.allocPort}`,
    '--ca', `${dir}/ca.pem`, '--token', mintToken('appr', device), '--keys', `${dir}/appr-${device}.keys`, ...args],
  { encoding: 'utf8' });
  const reinstall = (device) => {
    execFileSync('rm', ['-f', `${dir}/appr-${device}.keys`]);
    cli(device, 'ping');
    return cli(device, 'fingerprint').trim();
  };
  cli('pc', 'ping');
  cli('phone', 'ping');
  const keys = await PushKeys.generate({ extractable: true });
  const page = new HandoffClient({ allocators: [allocateUrl], token: mintToken('appr', 'page'), WebSocket,
    pushKeys: keys });
  page.start();
  await connected(page);
  await page.deviceKeys(); // trusts pc and phone on first use
  cli('pc', 'devices'); // pc trusts the page and phone
  const first = reinstall('phone');
  assert.equal((await page.deviceKeys()).find((d) => d.device === 'phone').state, 'changed');
  const approved = once(page, 'keyapproved');
  const out = cli('pc', 'devices', 'approve', 'phone', first);
  assert.match(out, /^verified phone: /);
  assert.deepEqual(await approved, { device: 'phone', by: 'pc', fingerprint: first });
  assert.equal((await page.deviceKeys()).find((d) => d.device === 'phone').state, 'verified');
  assert.equal(await page.send('phone', 'after the approval', { e2e: true }), 'stored');
  // The page approves phone's next key; the CLI takes it (listening).
  const second = reinstall('phone');
  assert.equal(await page.approveDevice('phone', 'ffff ffff ffff ffff ffff ffff ffff ffff'), false);
  assert.equal(await page.approveDevice('phone', second), true);
  cli('pc', 'listen', '--timeout', '3');
  const row = cli('pc', 'devices').split('\n').find((line) => line.startsWith('phone '));
  assert.match(row, new RegExp(`${second} +verified$`));
  page.stop();
});

// Wake routes (docs/wake.md): the page sets its own, through its connection.
test('a page sets, asks and drops its wake route, and a bad one is refused', limit, async () => {
  const wakeRelay = await startRelay({ dir, build, wake: true });
  try {
    const page = new HandoffClient({ allocators: [wakeRelay.allocateUrl], token: mintToken('wake', 'page'),
      WebSocket });
    page.start();
    await connected(page);
    const key = await page.wakeKey();
    assert.equal(key.length, 65);
    const subscription = { endpoint: 'https://push.example.net/send/abc', expirationTime: null,
      keys: { p256dh: 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4',
        auth: 'BTBZMqHH6r4Tts7J_aSIgg' } };
    assert.deepEqual(await page.setWakeRoute({ webpush: subscription }), key);
    await assert.rejects(page.setWakeRoute({ webpush: { ...subscription, endpoint: 'http://10.0.0.1/x' } }),
      (e) => e.code === 'bad_field' && /https/.test(e.message));
    await assert.rejects(page.setWakeRoute({ fcm: { token: 't' } }), (e) => e.code === 'bad_field');
    assert.deepEqual(await page.dropWakeRoute('webpush'), key);
    page.stop();
  } finally {
    wakeRelay.stop();
  }
});
