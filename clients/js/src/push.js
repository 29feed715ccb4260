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

// The device's Web Push keys. In a browser, keep them with save() in
// IndexedDB (the private key as a non-extractable CryptoKey); in Node,
// toJSON() gives the handoff CLI's key file (handoff(1), --keys), and
// fromJSON() reads one.
export class PushKeys {
  #privateKey; #publicKey; #apps; #rest;

  constructor(privateKey, publicKey, apps = {}, rest = {}) {
    this.#privateKey = privateKey; // CryptoKey (ECDH, deriveBits)
    this.#publicKey = publicKey;   // Uint8Array(65), uncompressed
    this.#apps = apps;             // app -> { auth: Uint8Array(16), endpoint }
    // What else the key file holds (the CLI's signing pair and trusted
    // peers): kept as it was, and written back.
    this.#rest = rest;
  }

  // New keys. extractable: false (the default) keeps the private key out
  // of reach of scripts (and of toJSON()).
  static async generate({ extractable = false } = {}) {
    const pair = await subtle().generateKey(ECDH, extractable, ['deriveBits']);
    const publicKey = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
    return new PushKeys(pair.privateKey, publicKey);
  }

  // A key file's JSON (an object or its text), as `handoff subscribe` writes it.
  static async fromJSON(json) {
    const file = typeof json === 'string' ? JSON.parse(json) : json;
    if (file.version !== 1) throw new TypeError('not a handoff key file (version 1)');
    const publicKey = fromB64url(file.public_key);
    const jwk = { kty: 'EC', crv: 'P-256', d: file.private_key, x: b64url(publicKey.subarray(1, 33)),
      y: b64url(publicKey.subarray(33, 65)), ext: true };
    const privateKey = await subtle().importKey('jwk', jwk, ECDH, true, ['deriveBits']);
    const apps = {};
    for (const [app, entry] of Object.entries(file.apps || {}))
      apps[app] = { auth: fromB64url(entry.auth), endpoint: entry.endpoint };
    const { version, private_key: _d, public_key: _p, apps: _a, ...rest } = file;
    return new PushKeys(privateKey, publicKey, apps, rest);
  }

  async toJSON() {
    const jwk = await subtle().exportKey('jwk', this.#privateKey);
    const apps = {};
    for (const [app, entry] of Object.entries(this.#apps))
      apps[app] = { auth: b64url(entry.auth), endpoint: entry.endpoint };
    return { ...this.#rest, version: 1, private_key: jwk.d, public_key: b64url(this.#publicKey), apps };
  }

  // Keeps the keys in IndexedDB (a browser's), under name; load() reads
  // them back, or resolves null if none were saved.
  async save(name = 'handoff-push-keys') {
    await idb(name, 'readwrite', (store) => store.put({ privateKey: this.#privateKey, publicKey: this.#publicKey,
      apps: this.#apps }, 'keys'));
  }

  static async load(name = 'handoff-push-keys') {
    const saved = await idb(name, 'readonly', (store) => store.get('keys'));
    return saved ? new PushKeys(saved.privateKey, saved.publicKey, saved.apps) : null;
  }

  get publicKey() { return this.#publicKey; }

  // The PushSubscription an application server takes, for app at endpoint:
  // the app's auth secret is made the first time, and kept while the
  // endpoint stays the same.
  subscription(app, endpoint) {
    let entry = this.#apps[app];
    if (!entry || entry.endpoint !== endpoint) {
      entry = { auth: globalThis.crypto.getRandomValues(new Uint8Array(16)), endpoint };
      this.#apps[app] = entry;
    }
    return { endpoint, expirationTime: null, keys: { p256dh: b64url(this.#publicKey), auth: b64url(entry.auth) } };
  }

  forget(app) { delete this.#apps[app]; }

  // RFC 8291 section 3.4 and RFC 8188: the plaintext of one aes128gcm
  // record pushed to app. Rejects (a TypeError saying why) if it is not
  // one for these keys.
  async decrypt(app, body) {
    const entry = this.#apps[app];
    if (!entry) throw new TypeError(`no auth secret for app "${app}": not subscribed with these keys`);
    if (body.length < 86 + 17 || body[20] !== 65) throw new TypeError('not aes128gcm for Web Push');
    const salt = body.subarray(0, 16), senderKey = body.subarray(21, 86), record = body.subarray(86);
    const sender = await subtle().importKey('raw', senderKey, ECDH, false, []);
    const shared = new Uint8Array(await subtle().deriveBits({ name: 'ECDH', public: sender }, this.#privateKey, 256));
    const ikm = await hkdf(entry.auth, shared, concat(text('WebPush: info\0'), this.#publicKey, senderKey), 32);
    const cek = await hkdf(salt, ikm, text('Content-Encoding: aes128gcm\0'), 16);
    const nonce = await hkdf(salt, ikm, text('Content-Encoding: nonce\0'), 12);
    const key = await subtle().importKey('raw', cek, 'AES-GCM', false, ['decrypt']);
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
}

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
