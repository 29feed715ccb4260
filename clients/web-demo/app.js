// The demo page: one device of an account, given by the token in the URL
// fragment (#relay=https://HOST:PORT&token=hf1...). It shows the list,
// takes new bookmarks and removals, says what the relay did with them, and
// shows which devices of the account are online ("phone: online") or away.
// Bookmarks go end to end: each device's keys live in its IndexedDB, and a
// bookmark that came encrypted and signed by another device shows a lock.
// With no tab open, the relay wakes the device through the browser's push
// service (sw.js, docs/wake.md).
import { HandoffClient, PushKeys, tokenClaims } from '../js/src/index.js';
import { BookmarkList } from './bookmarks.js';
import { BookmarkSync } from './sync.js';

const $ = (id) => document.getElementById(id);

const RESULT_TEXT = {
  delivered: 'delivered to every other device',
  stored: 'stored for the devices that are away; they get it when they connect',
  no_target: 'no other device of this account yet; a new one gets the whole list when it joins',
};

async function start() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  const relay = (params.get('relay') || '').replace(/\/+$/, '');
  let claims;
  try {
    claims = tokenClaims(token);
  } catch {
    $('help').hidden = false;
    return;
  }
  if (!relay) {
    $('help').hidden = false;
    return;
  }
  const device = claims.device;
  $('who').textContent = `${claims.account} · ${device}`;
  document.title = `${device} · handoff bookmarks`;
  $('app').hidden = false;

  const prefix = `handoff-demo:${claims.account}:${device}`;
  const list = new BookmarkList(localStorage, `${prefix}:bookmarks`);
  // This device's keys (not extractable), and the others' as it trusts them.
  let keys = await PushKeys.load(prefix);
  if (!keys) {
    keys = await PushKeys.generate();
    await keys.save(prefix);
  }
  const client = new HandoffClient({ allocators: [`${relay}/allocate`], token, pushKeys: keys });
  const sync = new BookmarkSync(client, list, localStorage, `${prefix}:outbox`);
  const keepKeys = () => keys.save(prefix); // what it trusts changes as devices are seen

  const render = () => {
    const ul = $('bookmarks');
    ul.replaceChildren(...list.items.map((b) => bookmarkItem(b, () => {
      sync.publish(list.remove(b.id));
      render();
    })));
    $('empty').hidden = list.items.length > 0;
  };
  const say = (text) => { $('status').textContent = text; };

  // Presence: the account's devices, online or away, kept up to date.
  const present = new Map();
  const renderDevices = () => {
    $('devices').replaceChildren(...[...present.keys()].sort().map((name) => {
      const li = document.createElement('li');
      li.dataset.device = name;
      li.className = present.get(name) ? 'online' : 'away';
      li.textContent = `${name}${name === device ? ' (this page)' : ''}: ${present.get(name) ? 'online' : 'away'}`;
      return li;
    }));
  };
  client.addEventListener('presence', (event) => {
    present.set(event.detail.device, event.detail.online);
    renderDevices();
  });

  let followed = false;
  client.addEventListener('state', (event) => {
    $('state').textContent = event.detail;
    $('state').className = `state ${event.detail}`;
    // Asked once: the client asks again itself after a reconnect.
    if (event.detail === 'connected' && !followed) {
      followed = true;
      registerWake(client).then((text) => { $('wake').textContent = text; },
        (e) => { $('wake').textContent = `no wake-ups while this page is closed: ${e.message}`; });
      client.devices({ follow: true }).then((list) => {
        for (const d of list) present.set(d.device, d.online);
        renderDevices();
      }, () => { followed = false; });
    }
  });
  client.addEventListener('error', (event) => say(`the relay refused this device: ${event.detail.message}`));
  client.addEventListener('trace', (event) => {
    if (/connection failed/.test(event.detail) && client.state !== 'connected')
      say(`cannot reach ${relay}: is it running, and does this browser trust its certificate? ` +
          `Open ${relay}/allocate once to accept it.`);
  });
  sync.addEventListener('changed', (event) => {
    render();
    say(`updated from ${event.detail.from}`);
    keepKeys();
  });
  client.addEventListener('keychange', (event) => say(`${event.detail.device}'s key changed (now ` +
    `${event.detail.fingerprint}): nothing goes to it or is taken from it until you verify it`));
  sync.addEventListener('sent', (event) => {
    keepKeys();
    if (event.detail.op.op !== 'sync' && event.detail.op.op !== 'snapshot')
      say(RESULT_TEXT[event.detail.result] || `not sent: ${event.detail.result}`);
  });

  $('add').addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      sync.publish(list.add($('url').value.trim(), $('title').value.trim(), device));
    } catch (e) {
      say(e.message);
      return;
    }
    $('add').reset();
    render();
    say(client.state === 'connected' ? 'sending...' : 'kept here; it goes out when the relay is reachable');
  });

  render();
  sync.start();
  client.start();
}

// The browser's push subscription as this device's wake route: the relay
// nudges the service worker when a bookmark waits and no tab is open.
// Resolves what to tell the user.
async function registerWake(client) {
  if (!('serviceWorker' in navigator) || !('PushManager' in globalThis))
    throw new Error('this browser has no service workers or push');
  const key = await client.wakeKey();
  if (!key) throw new Error('the relay sends no Web Push wake-ups (wake.vapid_key_file)');
  await navigator.serviceWorker.register('sw.js');
  const registration = await navigator.serviceWorker.ready; // subscribing needs it active
  // Where the service worker opens the page again: this address, token included.
  await (await caches.open('handoff-demo')).put('/handoff-demo/page', new Response(location.href));
  const subscription = await registration.pushManager.getSubscription() ||
    await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await client.setWakeRoute({ webpush: subscription.toJSON() });
  return 'wake-ups on: a closed page is told of new bookmarks';
}

// One <li>; built from text nodes only, since titles and URLs come from
// other devices.
function bookmarkItem(b, onRemove) {
  const li = document.createElement('li');
  li.dataset.id = b.id;
  const a = document.createElement('a');
  a.href = b.url;
  a.textContent = b.title;
  a.rel = 'noopener noreferrer';
  a.target = '_blank';
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `${b.addedBy ? `${b.addedBy}, ` : ''}${new Date(b.addedAt).toLocaleTimeString()}`;
  if (b.e2e) {
    // Came encrypted to this device and signed by the one that sent it.
    const lock = document.createElement('span');
    lock.className = 'e2e';
    lock.title = 'end to end: the relay could not read it';
    lock.textContent = 'end to end';
    meta.prepend(lock);
  }
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.title = 'remove on every device';
  remove.textContent = '✕';
  remove.addEventListener('click', onRemove);
  li.append(a, meta, remove);
  return li;
}

start();

