// The bookmark demo (clients/web-demo) in two real browser pages, "pc" and
// "phone" of one account, plus two CLI devices, through a real handoffd:
// Debian's chromium, headless, driven by playwright-core. The browser trusts
// the throwaway certificate by its key's hash, as a user would after
// accepting it once (tools/web-demo).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import webpush from 'web-push';
import { freePort, mintToken, startRelay, waitForPort } from '../../clients/js/test/relay.js';

const build = process.env.HANDOFF_BUILD;
const dir = process.env.HF_TEST_DIR;
const output = process.env.HF_TEST_OUTPUT;
const clients = new URL('../../clients', import.meta.url).pathname;
const WAIT_MS = 15000;

// The base64 SHA-256 of the certificate's public key, the form
// --ignore-certificate-errors-spki-list takes.
function spkiHash(pemFile) {
  const der = new X509Certificate(readFileSync(pemFile)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

// The static pages, served the way tools/web-demo serves them.
async function servePages() {
  const port = await freePort();
  const server = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', clients, String(port)],
    { stdio: 'ignore' });
  await waitForPort(port, 'the page server');
  return { origin: `http://127.0.0.1:${port}`, stop: () => server.kill() };
}

function cliArgs(relay, device) {
  return ['--allocator', `127.0.0.1:${relay.allocPort}`, '--ca', `${dir}/ca.pem`,
    '--token', mintToken(dir, 'alice', device)];
}

// `handoff listen` as device "cli": resolves once it is connected; lines
// holds what it printed, one JSON object per message.
function listenCli(relay) {
  // With keys: it publishes them, and decrypts the pages' end-to-end copies.
  const child = spawn(`${build}/handoff`, [...cliArgs(relay, 'cli'), '--keys', `${dir}/cli.keys`, '--verbose', 'listen',
    '--format', 'json']);
  const lines = [];
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
    const parts = out.split('\n');
    out = parts.pop();
    lines.push(...parts.map((line) => JSON.parse(line)));
  });
  const connected = new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (chunk) => {
      err += chunk;
      if (/state connected/.test(err)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`handoff listen exited ${code}: ${err}`)));
  });
  return { lines, connected, stop: () => child.kill() };
}

async function until(what, predicate) {
  for (let waited = 0; waited < WAIT_MS; waited += 50) {
    if (predicate()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const link = (url) => `#bookmarks a[href="${url}"]`;

test('a bookmark made on one device reaches the others, and a closed page gets it when reopened', { timeout: 120000 }, async () => {
  const pages = await servePages();
  const relay = await startRelay({ dir, build, origins: [pages.origin] });
  const cli = listenCli(relay);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [`--ignore-certificate-errors-spki-list=${spkiHash(`${dir}/server.pem`)}`],
  });
  const errors = [];
  const open = async (context, device) => {
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (e) => errors.push(`${device}: ${e.message}`));
    await page.goto(`${pages.origin}/web-demo/index.html#relay=${relay.relayUrl}&token=${mintToken(dir, 'alice', device)}`);
    await page.waitForSelector('#state.connected');
    return page;
  };
  const add = async (page, url, title) => {
    await page.fill('#url', url);
    await page.fill('#title', title);
    await page.click('#add button[type=submit]');
  };
  const statusSays = (page, text) => page.waitForFunction(
    (t) => document.getElementById('status').textContent.startsWith(t), text);
  try {
    await cli.connected;
    const pcContext = await browser.newContext();
    const phoneContext = await browser.newContext(); // its own localStorage
    const pc = await open(pcContext, 'pc');
    let phone = await open(phoneContext, 'phone');
    assert.equal(await pc.textContent('#who'), 'alice · pc');

    // Everyone online: the page and the CLI device get it at once.
    const one = 'https://example.org/one';
    await add(pc, one, 'One');
    await phone.waitForSelector(link(one));
    assert.equal(await phone.textContent(link(one)), 'One');
    // It came end to end, and says so.
    assert.ok(await phone.$(`#bookmarks li:has(a[href="${one}"]) .e2e`), 'bookmark one shows its lock');
    await statusSays(pc, 'delivered to every other device');
    await until('the CLI device to print bookmark one, end to end', () =>
      cli.lines.some((m) => m.from === 'pc' && m.e2e && JSON.parse(m.payload).bookmark?.url === one));

    // Each page shows the others' presence, and follows it.
    const presence = (page, name, state) => page.waitForSelector(`#devices li[data-device="${name}"].${state}`);
    await presence(pc, 'phone', 'online');
    await presence(phone, 'pc', 'online');

    // The phone's page is closed while a bookmark is sent: stored for it.
    await phone.close();
    await presence(pc, 'phone', 'away');
    assert.equal(await pc.textContent('#devices li[data-device="phone"]'), 'phone: away');
    const two = 'https://example.org/two';
    await add(pc, two, 'Two');
    await statusSays(pc, 'stored for the devices that are away');
    await until('the CLI device to print bookmark two', () =>
      cli.lines.some((m) => JSON.parse(m.payload).bookmark?.url === two));
    phone = await open(phoneContext, 'phone');
    await phone.waitForSelector(link(two));
    assert.ok(await phone.$(link(one)), 'the phone kept bookmark one');

    // A plain URL from another kind of device becomes a bookmark everywhere.
    const three = 'https://example.org/three';
    await promisify(execFile)(`${build}/handoff`, [...cliArgs(relay, 'cli-sender'), 'send', '--to', '*', three]);
    await pc.waitForSelector(link(three));
    await phone.waitForSelector(link(three));
    // A plain message from a device without keys shows no lock.
    assert.equal(await pc.$(`#bookmarks li:has(a[href="${three}"]) .e2e`), null);
    // The CLI, with keys, sends end to end: libhandoff's side to the pages'.
    const four = 'https://example.org/four';
    await promisify(execFile)(`${build}/handoff`, [...cliArgs(relay, 'cli-e2e'), '--keys', `${dir}/cli-e2e.keys`, 'send',
      '--e2e', '--to', '*', four]);
    await pc.waitForSelector(`#bookmarks li:has(a[href="${four}"]) .e2e`);
    await phone.waitForSelector(`#bookmarks li:has(a[href="${four}"]) .e2e`);

    // A removal on the phone removes it on the pc.
    await phone.click(`#bookmarks li:has(a[href="${one}"]) button`);
    await pc.waitForSelector(link(one), { state: 'detached' });
    assert.deepEqual(await pc.$$eval('#bookmarks a', (as) => as.map((a) => a.href)), [four, three, two]);

    for (const [name, page] of [['pc', pc], ['phone', phone]]) {
      await page.screenshot({ path: `${output}/${name}.png`, fullPage: true });
      assert.ok(statSync(`${output}/${name}.png`).size > 1000, `${name}.png is a picture`);
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    cli.stop();
    relay.stop();
    pages.stop();
  }
});

// Web Push in the browser (docs/push.md): the page makes its keys with
// WebCrypto (the private key not extractable) and keeps them in IndexedDB,
// subscribes, and decrypts what npm web-push pushed; after a reload the
// keys come back from IndexedDB and decrypt the push that waited.
test('a page subscribes, and decrypts pushes from npm web-push before and after a reload', { timeout: 120000 },
  async () => {
    const pages = await servePages();
    const relay = await startRelay({ dir, build, origins: [pages.origin], push: true });
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [`--ignore-certificate-errors-spki-list=${spkiHash(`${dir}/server.pem`)}`],
    });
    const errors = [];
    const token = mintToken(dir, 'alice', 'browser');
    // In the page: a client with the keys IndexedDB holds (made and saved
    // the first time), and the texts of the pushes it got.
    const connect = (page) => page.evaluate(async ({ allocateUrl, token }) => {
      const { HandoffClient, PushKeys } = await import('/js/src/index.js');
      let keys = await PushKeys.load();
      if (!keys) {
        keys = await PushKeys.generate();
        await keys.save();
      }
      window.pushes = [];
      window.client = new HandoffClient({ allocators: [allocateUrl], token, pushKeys: keys });
      window.client.addEventListener('message', (e) => window.pushes.push([e.detail.app, e.detail.text()]));
      window.client.start();
      window.keys = keys;
      await new Promise((resolve) => window.client.addEventListener('state', (e) => e.detail === 'connected' && resolve()));
    }, { allocateUrl: relay.allocateUrl, token });
    const got = (page, count) => page.waitForFunction((n) => window.pushes.length >= n, count)
      .then(() => page.evaluate(() => window.pushes));
    try {
      const context = await browser.newContext();
      let page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${pages.origin}/`);
      await connect(page);
      const sub = await page.evaluate(async () => {
        const s = await window.client.subscribe({ app: 'news' });
        await window.keys.save(); // with the app's auth secret
        return s;
      });
      const extractable = await page.evaluate(() => window.keys.toJSON().then(() => true, () => false));
      assert.equal(extractable, false, 'the private key stays in the browser');
      assert.equal((await webpush.sendNotification(sub, 'headline one', { TTL: 60 })).statusCode, 201);
      assert.deepEqual(await got(page, 1), [['news', 'headline one']]);
      await page.evaluate(() => window.client.stop());
      assert.equal((await webpush.sendNotification(sub, 'headline two', { TTL: 60 })).statusCode, 201);
      await page.reload();
      await connect(page);
      assert.deepEqual(await got(page, 1), [['news', 'headline two']]);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      relay.stop();
      pages.stop();
    }
  });

// Wake-ups (docs/wake.md, "Browsers"): the demo registers its service
// worker and asks the relay for its VAPID key. The browser's own push
// service (Google's, for Chromium) cannot be reached from the test
// machines, and headless Chromium refuses push subscriptions, so the
// subscription fails here and the page says so; the service worker's push
// handler is then called as a push event would call it, and shows the
// notification. The route the page would set is tested from Node
// (clients/js/test: setWakeRoute) and the wake-up's path from 29_wake.
test('the demo registers its service worker for wake-ups, and a wake-up shows "a new bookmark"', { timeout: 120000 },
  async () => {
    const pages = await servePages();
    const relay = await startRelay({ dir, build, origins: [pages.origin], wake: true });
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [`--ignore-certificate-errors-spki-list=${spkiHash(`${dir}/server.pem`)}`],
    });
    try {
      const context = await browser.newContext();
      await context.grantPermissions(['notifications'], { origin: pages.origin });
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const worker = context.waitForEvent('serviceworker');
      await page.goto(`${pages.origin}/web-demo/index.html#relay=${relay.relayUrl}&token=${mintToken(dir, 'alice',
        'tab')}`);
      await page.waitForSelector('#state.connected');
      const sw = await worker;
      assert.match(sw.url(), /\/web-demo\/sw\.js$/);
      await page.waitForFunction(() => document.getElementById('wake').textContent !== '');
      const said = await page.textContent('#wake');
      // Headless Chromium refuses push subscriptions (permission denied),
      // or cannot reach its push service; the page says which.
      assert.match(said, /^(wake-ups on|no wake-ups while this page is closed: Registration failed - )/, said);
      // Where a click on the notification goes: this page, token included.
      const saved = await page.evaluate(async () => (await (await caches.open('handoff-demo'))
        .match('/handoff-demo/page')).text());
      assert.equal(saved, page.url());
      const titles = await sw.evaluate(async () => {
        const none = onPush({ bookmark: 'not a wake-up' });
        await onPush({ handoff: 'wake' });
        await onPush({ handoff: 'wake' });
        return [none, (await self.registration.getNotifications()).map((n) => [n.title, n.tag])];
      });
      assert.deepEqual(titles, [null, [['a new bookmark', 'handoff-wake']]]);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      relay.stop();
      pages.stop();
    }
  });
