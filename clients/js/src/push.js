// Web Push on the device (docs/push.md), with WebCrypto only: the keys a
// subscription is made with (a P-256 ECDH pair, and a 16-byte auth secret
// per app), and RFC 8291's decryption of what an application server
// pushed (aes128gcm, RFC 8188). The keys stay here: the server sees the
// public key and the secret only in the PushSubscription the app hands
// its own application server.

const subtle = () => globalThis.crypto.subtle;
const ECDH = { name: 'ECDH', namedCurve: 'P-256' };

const b64url = (bytes) => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
const fromB64url = (text) => {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
};
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const text = (s) => new TextEncoder().encode(s);

async function hkdf(salt, ikm, info, bytes) {
  const key = await subtle().importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, key, bytes * 8));
}

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN = { name: 'ECDSA', hash: 'SHA-256' };
// docs/protocol.md, "End-to-end messages": the payload's first bytes
// ("hfe" and its kind: a message, or another device's approval of a key),
// and the auth secret its aes128gcm body is made with.
const E2E_MAGIC = Uint8Array.of(0x68, 0x66, 0x65);
export const E2E_MESSAGE = 1;
export const E2E_APPROVAL = 2;
const E2E_LABELS = { [E2E_MESSAGE]: 'handoff e2e 1', [E2E_APPROVAL]: 'handoff approval 1' };
const E2E_AUTH = text('handoff e2e auth');

// A P-256 private key from the raw scalar and public point.
const importPrivate = (d, pub, algorithm, usages) => subtle().importKey('jwk', {
  kty: 'EC', crv: 'P-256', d: b64url(d), x: b64url(pub.subarray(1, 33)), y: b64url(pub.subarray(33, 65)), ext: true,
}, algorithm, true, usages);

// RFC 8291 section 3.4: the content key and nonce of a message from
// senderPublic to receiverPublic.
async function derive(shared, auth, receiverPublic, senderPublic, salt) {
  const ikm = await hkdf(auth, shared, concat(text('WebPush: info\0'), receiverPublic, senderPublic), 32);
  const cek = await hkdf(salt, ikm, text('Content-Encoding: aes128gcm\0'), 16);
  const nonce = await hkdf(salt, ikm, text('Content-Encoding: nonce\0'), 12);
  return [await subtle().importKey('raw', cek, 'AES-GCM', false, ['encrypt', 'decrypt']), nonce];
}

const signedPart = (kind, from, to, body) => concat(text(`${E2E_LABELS[kind]}\0${from}\0${to}\0`), body);

// The device's keys, made and kept on the device: a P-256 ECDH pair (Web
// Push and end-to-end messages are encrypted to it), a P-256 ECDSA pair
// (what it sends end to end is signed with it), an auth secret per Web
// Push app, and its peers' keys as it trusts them. In a browser, keep them
// with save() in IndexedDB (the private keys as non-extractable
// CryptoKeys); in Node, toJSON() gives the handoff CLI's key file
// (handoff(1), --keys), and fromJSON() reads one.
export class PushKeys {
  #k;

  constructor(state) {
    // { privateKey, publicKey, signPrivate, signPublic, apps, peers, rest }:
    // CryptoKeys, raw public points (65 bytes), app -> { auth, endpoint },
    // device -> { key (130 bytes), state }, and what else a key file held.
    this.#k = { apps: {}, peers: {}, rest: {}, ...state };
  }

  // New keys. extractable: false (the default) keeps the private keys out
  // of reach of scripts (and of toJSON()).
  static async generate({ extractable = false } = {}) {
    const ecdh = await subtle().generateKey(ECDH, extractable, ['deriveBits']);
    const ecdsa = await subtle().generateKey(ECDSA, extractable, ['sign', 'verify']);
    return new PushKeys({
      privateKey: ecdh.privateKey, publicKey: new Uint8Array(await subtle().exportKey('raw', ecdh.publicKey)),
      signPrivate: ecdsa.privateKey, signPublic: new Uint8Array(await subtle().exportKey('raw', ecdsa.publicKey)),
    });
  }

  // A key file's JSON (an object or its text), as the handoff CLI writes
  // it; one without a signing pair gets one.
  static async fromJSON(json) {
    const file = typeof json === 'string' ? JSON.parse(json) : json;
    if (file.version !== 1) throw new TypeError('not a handoff key file (version 1)');
    const { version, private_key: d, public_key: pub, signing_private_key: sd, signing_public_key: spub, apps = {},
      peers = {}, ...rest } = file;
    const publicKey = fromB64url(pub);
    const state = { publicKey, privateKey: await importPrivate(fromB64url(d), publicKey, ECDH, ['deriveBits']), rest };
    if (sd) {
      state.signPublic = fromB64url(spub);
      state.signPrivate = await importPrivate(fromB64url(sd), state.signPublic, ECDSA, ['sign']);
    } else {
      const ecdsa = await subtle().generateKey(ECDSA, true, ['sign', 'verify']);
      state.signPrivate = ecdsa.privateKey;
      state.signPublic = new Uint8Array(await subtle().exportKey('raw', ecdsa.publicKey));
    }
    state.apps = Object.fromEntries(Object.entries(apps).map(([app, e]) =>
      [app, { auth: fromB64url(e.auth), endpoint: e.endpoint }]));
    state.peers = Object.fromEntries(Object.entries(peers).map(([device, p]) =>
      [device, { key: fromB64url(p.key), state: p.state }]));
    return new PushKeys(state);
  }

  async toJSON() {
    const k = this.#k;
    const d = (await subtle().exportKey('jwk', k.privateKey)).d;
    const sd = (await subtle().exportKey('jwk', k.signPrivate)).d;
    return {
      ...k.rest, version: 1, private_key: d, public_key: b64url(k.publicKey), signing_private_key: sd,
      signing_public_key: b64url(k.signPublic),
      apps: Object.fromEntries(Object.entries(k.apps).map(([app, e]) =>
        [app, { auth: b64url(e.auth), endpoint: e.endpoint }])),
      peers: Object.fromEntries(Object.entries(k.peers).map(([device, p]) =>
        [device, { key: b64url(p.key), state: p.state }])),
    };
  }

  // Keeps the keys in IndexedDB (a browser's), under name; load() reads
  // them back, or resolves null if none were saved.
  async save(name = 'handoff-push-keys') {
    await idb(name, 'readwrite', (store) => store.put(this.#k, 'keys'));
  }

  static async load(name = 'handoff-push-keys') {
    const saved = await idb(name, 'readonly', (store) => store.get('keys'));
    return saved ? new PushKeys(saved) : null;
  }

  get publicKey() { return this.#k.publicKey; }

  // What the device publishes (docs/protocol.md, "Device keys"): its ECDH
  // public key, then its ECDSA one.
  get deviceKey() { return concat(this.#k.publicKey, this.#k.signPublic); }

  // The fingerprint of a device's keys (this device's by default): the
  // first 16 bytes of their SHA-256, as eight groups of four hex digits.
  async fingerprint(key = this.deviceKey) {
    const digest = new Uint8Array(await subtle().digest('SHA-256', key)).subarray(0, 16);
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    return hex.match(/.{4}/g).join(' ');
  }

  // Where a peer's published key stands: 'new' (seen for the first time:
  // trusted from now on), 'trusted', 'verified', 'changed' (not to be
  // used until verify()), or 'none' (it published none).
  trust(device, key) {
    if (!key) return 'none';
    const peer = this.#k.peers[device];
    if (!peer) {
      this.#k.peers[device] = { key, state: 'trusted' };
      return 'new';
    }
    return peer.key.length === key.length && peer.key.every((b, i) => b === key[i]) ? peer.state : 'changed';
  }

  // Trusts device's key if its fingerprint is the one the user read off
  // that device; resolves whether it did.
  async verify(device, key, fingerprint) {
    if (!key || (await this.fingerprint(key)) !== fingerprint) return false;
    this.#k.peers[device] = { key, state: 'verified' };
    return true;
  }

  // The PushSubscription an application server takes, for app at endpoint:
  // the app's auth secret is made the first time, and kept while the
  // endpoint stays the same.
  subscription(app, endpoint) {
    let entry = this.#k.apps[app];
    if (!entry || entry.endpoint !== endpoint) {
      entry = { auth: globalThis.crypto.getRandomValues(new Uint8Array(16)), endpoint };
      this.#k.apps[app] = entry;
    }
    return { endpoint, expirationTime: null, keys: { p256dh: b64url(this.#k.publicKey), auth: b64url(entry.auth) } };
  }

  forget(app) { delete this.#k.apps[app]; }

  // RFC 8291 section 3.4 and RFC 8188: the plaintext of one aes128gcm
  // record pushed to app. Rejects (a TypeError saying why) if it is not
  // one for these keys.
  async decrypt(app, body) {
    const entry = this.#k.apps[app];
    if (!entry) throw new TypeError(`no auth secret for app "${app}": not subscribed with these keys`);
    return this.#open(entry.auth, body);
  }

  async #open(auth, body) {
    if (body.length < 86 + 17 || body[20] !== 65) throw new TypeError('not aes128gcm for Web Push');
    const salt = body.subarray(0, 16), senderKey = body.subarray(21, 86), record = body.subarray(86);
    const sender = await subtle().importKey('raw', senderKey, ECDH, false, []);
    const shared = new Uint8Array(await subtle().deriveBits({ name: 'ECDH', public: sender }, this.#k.privateKey, 256));
    const [key, nonce] = await derive(shared, auth, this.#k.publicKey, senderKey, salt);
    let plain;
    try {
      plain = new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: nonce }, key, record));
    } catch {
      throw new TypeError("does not decrypt with this device's keys");
    }
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (end < 0 || plain[end] !== 2) throw new TypeError('decrypts, but is not a last record (no 0x02 delimiter)');
    return plain.subarray(0, end);
  }

  // An end-to-end payload of plaintext from this device (named from) to
  // the device to, whose published keys are toKey; kind E2E_APPROVAL for
  // an approval (approval() makes its plaintext).
  async seal(from, to, toKey, plaintext, kind = E2E_MESSAGE) {
    const toPublic = toKey.subarray(0, 65);
    const ephemeral = await subtle().generateKey(ECDH, true, ['deriveBits']);
    const ephemeralPublic = new Uint8Array(await subtle().exportKey('raw', ephemeral.publicKey));
    const receiver = await subtle().importKey('raw', toPublic, ECDH, false, []);
    const shared = new Uint8Array(await subtle().deriveBits({ name: 'ECDH', public: receiver }, ephemeral.privateKey,
      256));
    const salt = globalThis.crypto.getRandomValues(new Uint8Array(16));
    const [key, nonce] = await derive(shared, E2E_AUTH, toPublic, ephemeralPublic, salt);
    const data = typeof plaintext === 'string' ? text(plaintext) : plaintext;
    const sealed = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce }, key,
      concat(data, Uint8Array.of(2))));
    const body = concat(salt, Uint8Array.of(0, 0, 16, 0, 65), ephemeralPublic, sealed);
    const signature = new Uint8Array(await subtle().sign(SIGN, this.#k.signPrivate, signedPart(kind, from, to, body)));
    return concat(E2E_MAGIC, Uint8Array.of(kind), signature, body);
  }

  // The plaintext of an end-to-end payload from the device from (its
  // published keys: fromKey) to this one (named to), of the kind given;
  // rejects with a TypeError saying why if it is not one of from's for
  // this device.
  async open(from, to, fromKey, payload, kind = E2E_MESSAGE) {
    if (e2eKind(payload) !== kind) throw new TypeError(kind === E2E_MESSAGE ? 'not an end-to-end message' : 'not an approval');
    const verifier = await subtle().importKey('raw', fromKey.subarray(65, 130), ECDSA, false, ['verify']);
    const signature = payload.subarray(4, 68), body = payload.subarray(68);
    if (!(await subtle().verify(SIGN, verifier, signature, signedPart(kind, from, to, body))))
      throw new TypeError("the signature is not the sender's: forged, or sent to another device");
    return this.#open(E2E_AUTH, body);
  }

  // Takes device's key as verified: another device this one trusts
  // approved it (an approval, opened).
  approve(device, key) {
    this.#k.peers[device] = { key, state: 'verified' };
  }
}

// An approval's plaintext (device's name, 0x00, its published keys), and
// back: { device, key }, or null if it is not one.
export const approval = (device, key) => concat(text(`${device}\0`), key);
export function parseApproval(plain) {
  const nul = plain.indexOf(0);
  if (nul < 1 || plain.length - nul - 1 !== 130) return null;
  return { device: new TextDecoder().decode(plain.subarray(0, nul)), key: plain.slice(nul + 1) };
}

// An end-to-end payload's kind (E2E_MESSAGE or E2E_APPROVAL), or 0 if it
// has neither's form.
export const e2eKind = (payload) => (payload.length > 68 && E2E_MAGIC.every((b, i) => payload[i] === b) &&
  E2E_LABELS[payload[3]] ? payload[3] : 0);

// Whether a payload has an end-to-end message's form (either kind).
export const isE2e = (payload) => e2eKind(payload) !== 0;

// One IndexedDB request in a store of its own.
function idb(name, mode, request) {
  return new Promise((resolve, reject) => {
    const open = globalThis.indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('keys');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const req = request(db.transaction('keys', mode).objectStore('keys'));
      req.onsuccess = () => { db.close(); resolve(req.result); };
      req.onerror = () => { db.close(); reject(req.error); };
    };
  });
}
