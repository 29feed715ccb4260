// HandoffClient: a browser (or Node) device, doing what libhandoff does:
// ask an allocator for server URLs, try them in order, back off with full
// jitter and ask again when all fail, ping at the granted interval and move
// on when a PONG is late, resend unacknowledged SENDs with the same ids
// after a reconnect, acknowledge DELIVERs cumulatively, and not dispatch a
// copy of a message it has dispatched (and so acknowledged) before.
import { TYPE, STATUS, ERRORS, encodeFrame, decodeFrames } from './frames.js';
import { E2E_APPROVAL, E2E_MESSAGE, approval, e2eKind, isE2e, parseApproval } from './push.js';

// Refusals that no retry will fix: the client stops on them ('error').
const FATAL = new Set(['bad_token', 'token_expired', 'unknown_key', 'unsupported_version', 'forbidden', 'revoked',
  'certificate']);

// The largest payload before a WELCOME says (protocol.md: max_frame less 256).
const DEFAULT_MAX_PAYLOAD = 262144 - 256;

// What a failed connection or fetch says, as { code, text }: Node names
// the cause (ws, fetch); a browser says nothing more than that it failed.
function failureOf(error, where) {
  const cause = error?.cause || error?.error || error;
  const code = String(cause?.code || '');
  const text = String(cause?.message || error?.message || '');
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|certificate/i.test(code + ' ' + text))
    return { code: 'certificate', text: `${where}: certificate verify failed: ${text}` };
  if (code === 'ECONNREFUSED') return { code: 'refused', text: `${where}: connection refused` };
  if (code === 'ETIMEDOUT') return { code: 'timed_out', text: `${where}: timed out` };
  if (code === 'ECONNRESET') return { code: 'reset', text: `${where}: connection reset by the peer` };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { code: 'unreachable', text: `${where}: unreachable` };
  return { code: 'connection_failed', text: `${where}: connection failed${text ? `: ${text}` : ''}` };
}

// How many dispatched messages are remembered to recognise copies.
const DISPATCHED_REMEMBERED = 4096;

// WELCOME's features bits: PRESENCE_REQ and PRESENCE; SUBSCRIBE and
// SUBSCRIPTION (Web Push); WAKE and WAKE_ACK (wake routes).
const PRESENCE_FEATURE = 1;
const PUSH_FEATURE = 2;
const WAKE_FEATURE = 8;

// DELIVER's urgency of a push, by number (RFC 8030's names).
const URGENCIES = ['very-low', 'low', 'normal', 'high'];

const fromB64url = (text) => {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
};

const DEFAULTS = {
  connectTimeoutMs: 5000, pingTimeoutMs: 10000, backoffBaseMs: 500, backoffCapMs: 30000, heartbeatMs: 0,
};

export class HandoffError extends Error {
  constructor(code, text, retryMs) {
    super(`${code}${text ? `: ${text}` : ''}`);
    this.code = code;
    this.retryMs = retryMs;
  }
}

export class HandoffClient extends EventTarget {
  #opts; #state = 'idle'; #ws = null; #stopped = false;
  #pending = new Map(); // id -> { fields, resolve, reject }, in sending order
  #nextId; #ackUpto = 0; #ackScheduled = false;
  // `from NUL id` of the newest dispatched messages, oldest first. Delivery
  // is at-least-once: an acknowledgement lost with a connection brings the
  // message again, with the same sender and id.
  #dispatched = new Set();
  #attempt = 0; #wake = null; #retryFloorMs = 0;
  // Presence: the server's WELCOME features, whether changes are followed
  // (asked again after each reconnect), and questions waiting for their
  // answer, by id.
  #features = 0; #follow = false; #presenceAsks = new Map(); #nextPresenceId = 0;
  // Web Push: the SUBSCRIBE waiting for its answer ({ id, resolve, reject,
  // list }), and the messages still being decrypted, in order: a push is
  // dispatched (and acknowledged) once decrypted, and what came after it
  // waits its turn.
  #subscribeAsk = null; #wakeAsk = null; #inbox = Promise.resolve(); #inboxWaiting = 0;
  // Device keys: this device's name (WELCOME's) and its peers' published
  // keys, as the last presence answer gave them.
  #device = ''; #peerKeys = new Map();
  // The last failure ({ code, text }), and the current server's limit.
  #lastError = null; #maxPayload = DEFAULT_MAX_PAYLOAD;

  constructor(options) {
    super();
    if (!options || !options.allocators || !options.allocators.length || !options.token)
      throw new TypeError('HandoffClient needs allocators (URLs of /allocate) and a token');
    this.#opts = { ...DEFAULTS, ...options };
    this.#opts.WebSocket ||= globalThis.WebSocket;
    this.#opts.fetch ||= globalThis.fetch?.bind(globalThis);
    // Ids start at a random point so a reloaded page does not reuse ids the
    // server still remembers for de-duplication.
    this.#nextId = Math.floor(Math.random() * 2 ** 40) * 1000;
  }

  get state() { return this.#state; }

  // The last failure, { code, text } (null before any): a protocol error
  // name or 'certificate', 'refused', 'timed_out', 'reset', 'unreachable',
  // 'connection_failed'. Every 'state' event carries it as event.reason.
  get lastError() { return this.#lastError; }

  // Starts connecting; runs until stop() or a refusal for good.
  start() {
    if (this.#state !== 'idle') return;
    this.#run();
  }

  // Closes the connection; unanswered sends are rejected.
  stop() {
    this.#stopped = true;
    this.#ws?.close(1000);
    this.#wake?.();
    for (const p of this.#pending.values()) p.reject(new HandoffError('stopped', 'the client was stopped'));
    this.#pending.clear();
    this.#setState('stopped');
  }

  // Sends to a device of the account ('*': all the others). Resolves to
  // 'delivered' or 'stored'; rejects with a HandoffError when refused.
  send(to, payload, { ttl, collapse, e2e = false } = {}) {
    if (this.#stopped) return Promise.reject(new HandoffError('stopped', 'the client was stopped'));
    if (e2e) return this.#sendE2e(to, payload, { ttl, collapse });
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
    // What no server would take fails at once, alone, and is never queued.
    if (bytes.length > this.#maxPayload) {
      return Promise.reject(new HandoffError('payload_too_large',
        `the message is ${bytes.length} bytes; the server takes at most ${this.#maxPayload}`));
    }
    const id = ++this.#nextId;
    const fields = { id, to, payload: bytes, ttl, collapse };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { fields, resolve, reject });
      if (this.#state === 'connected') this.#write(TYPE.SEND, fields);
    });
  }

  // This device's fingerprint (docs/protocol.md, "Device keys"): compare
  // it with what another device of the account shows for this one.
  fingerprint() {
    if (!this.#opts.pushKeys) return Promise.reject(new HandoffError('no_keys', 'fingerprint() needs pushKeys'));
    return this.#opts.pushKeys.fingerprint();
  }

  // The account's devices by their published keys: [{ device, online,
  // fingerprint, state }], state as pushKeys.trust() says ('new' ones are
  // trusted from now on: save the keys after).
  async deviceKeys() {
    const keys = this.#opts.pushKeys;
    if (!keys) throw new HandoffError('no_keys', 'deviceKeys() needs pushKeys');
    const list = await this.#presenceNow();
    return Promise.all(list.map(async ({ device, online }) => {
      const key = this.#peerKeys.get(device);
      return { device, online, fingerprint: key ? await keys.fingerprint(key) : null, state: keys.trust(device, key) };
    }));
  }

  // Trusts device's current key if its fingerprint is the one read off
  // that device; resolves whether it did.
  async verifyDevice(device, fingerprint) {
    await this.#presenceNow();
    return this.#opts.pushKeys.verify(device, this.#peerKeys.get(device), fingerprint);
  }

  // As verifyDevice, then tells every other device with keys: an
  // approval, signed by this device, naming device and its key. A device
  // that trusts this one takes the key as verified (a reinstalled device
  // is then accepted everywhere after one comparison). Resolves whether
  // the fingerprint matched; the approvals are sent by then.
  async approveDevice(device, fingerprint) {
    if (!(await this.verifyDevice(device, fingerprint))) return false;
    try {
      await this.#sendE2e('*', approval(device, this.#peerKeys.get(device)), {}, E2E_APPROVAL, device);
    } catch (e) {
      if (e.code !== 'no_target') throw e; // no other device to tell
    }
    return true;
  }

  #presenceNow() {
    if (this.#state !== 'connected')
      return Promise.reject(new HandoffError('not_connected', 'end-to-end messages need a connection'));
    return new Promise((resolve, reject) => this.#askPresence(resolve, reject));
  }

  // One copy per target, encrypted to its published keys and signed with
  // this device's (docs/protocol.md, "End-to-end messages"). A target
  // whose key changed since it was trusted stops the send: a 'keychange'
  // event names it, and nothing goes.
  async #sendE2e(to, payload, options, kind = E2E_MESSAGE, except = null) {
    const keys = this.#opts.pushKeys;
    if (!keys) throw new HandoffError('no_keys', 'an end-to-end send needs the pushKeys option');
    const devices = (await this.#presenceNow()).map((d) => d.device);
    const targets = devices.filter((d) => (to === '*' ? d !== this.#device && d !== except : d === to));
    const sealed = [];
    for (const device of targets) {
      const key = this.#peerKeys.get(device);
      const state = keys.trust(device, key);
      if (state === 'none') {
        if (to === '*') continue; // never set up, or revoked: it gets none
        throw new HandoffError('no_keys', `${device} published no keys: it takes no end-to-end messages`);
      }
      if (state === 'changed') {
        const fingerprint = await keys.fingerprint(key);
        this.dispatchEvent(new CustomEvent('keychange', { detail: { device, fingerprint } }));
        throw new HandoffError('key_changed', `the key of ${device} changed (fingerprint now ${fingerprint}): ` +
          'verify it before sending to it');
      }
      sealed.push([device, key]);
    }
    if (!sealed.length) throw new HandoffError('no_target', 'no device of the account to send to end to end');
    const copies = await Promise.all(sealed.map(async ([device, key]) =>
      [device, await keys.seal(this.#device, device, key, payload, kind)]));
    const results = await Promise.all(copies.map(([device, body]) => this.send(device, body, options)));
    return results.every((r) => r === 'delivered') ? 'delivered' : 'stored';
  }

  // The account's devices and whether each is online: resolves to
  // [{ device, online }] by name. With { follow: true } a 'presence' event
  // ({ device, online }) then comes for every change, and after each
  // reconnect for every device again. Rejects when not connected, or when
  // the server does not offer presence (an older handoffd).
  devices({ follow = false } = {}) {
    if (this.#state !== 'connected')
      return Promise.reject(new HandoffError('not_connected', 'devices() needs a connection'));
    if (!(this.#features & PRESENCE_FEATURE))
      return Promise.reject(new HandoffError('not_supported', 'this server does not offer presence'));
    this.#follow = follow;
    return new Promise((resolve, reject) => this.#askPresence(resolve, reject));
  }

  // Web Push (docs/push.md): this device's subscription for app,
  // resolving to the PushSubscription JSON ({ endpoint, expirationTime,
  // keys: { p256dh, auth } }) its application server takes. Needs the
  // pushKeys option (a PushKeys); applicationServerKey (base64url or
  // bytes: the application server's VAPID public key) restricts the
  // subscription to that server's signed pushes. Its pushes then come as
  // 'message' events with app and urgency, decrypted. Save the keys
  // (pushKeys.save() or toJSON()) after it resolves.
  async subscribe({ app, applicationServerKey } = {}) {
    const keys = this.#opts.pushKeys;
    if (!keys) throw new HandoffError('no_keys', 'subscribe() needs the pushKeys option (a PushKeys)');
    const vapid = typeof applicationServerKey === 'string' ? fromB64url(applicationServerKey) : applicationServerKey;
    const [sub] = await this.#askSubscribe({ app, vapid_key: vapid });
    return keys.subscription(app, sub.endpoint);
  }

  // Drops the subscription for app: its endpoint answers 410 from then on.
  async unsubscribe(app) {
    await this.#askSubscribe({ app, remove: 1 });
    this.#opts.pushKeys?.forget(app);
  }

  // The device's subscriptions: [{ app, endpoint }].
  subscriptions() {
    return this.#askSubscribe({});
  }

  // Wake routes (docs/wake.md): how the server wakes this device when a
  // message waits and the app is asleep. setWakeRoute({ webpush:
  // pushSubscription.toJSON() }) (or { fcm: { token } }, or { apns: {
  // token, topic, environment } }) sets this device's route of that
  // provider; both resolve to the daemon's VAPID key (a Uint8Array, or
  // null if it sends no Web Push wake-ups), which a service worker's
  // pushManager.subscribe() takes as applicationServerKey: wakeKey()
  // only asks for it.
  setWakeRoute(route) {
    return this.#askWake({ route: JSON.stringify(route) });
  }

  dropWakeRoute(provider) {
    return this.#askWake({ provider, remove: 1 });
  }

  wakeKey() {
    return this.#askWake({});
  }

  #askWake(fields) {
    if (this.#state !== 'connected')
      return Promise.reject(new HandoffError('not_connected', 'wake routes need a connection'));
    if (!(this.#features & WAKE_FEATURE))
      return Promise.reject(new HandoffError('not_supported', 'this server sends no wake-ups'));
    if (this.#wakeAsk) return Promise.reject(new HandoffError('busy', 'one wake route request at a time'));
    const id = ++this.#nextPresenceId;
    return new Promise((resolve, reject) => {
      this.#wakeAsk = { id, resolve, reject };
      this.#write(TYPE.WAKE, { id, ...fields });
    });
  }

  #wakeAnswered(msg) {
    const ask = this.#wakeAsk;
    if (!ask || msg.id !== ask.id) return;
    this.#wakeAsk = null;
    if (msg.code) ask.reject(new HandoffError(ERRORS[msg.code] || String(msg.code), msg.text));
    else ask.resolve(msg.vapid_key || null);
  }

  #askSubscribe(fields) {
    if (this.#state !== 'connected')
      return Promise.reject(new HandoffError('not_connected', 'Web Push needs a connection'));
    if (!(this.#features & PUSH_FEATURE))
      return Promise.reject(new HandoffError('not_supported', 'this server does not offer Web Push'));
    if (this.#subscribeAsk) return Promise.reject(new HandoffError('busy', 'one Web Push request at a time'));
    const id = ++this.#nextPresenceId;
    return new Promise((resolve, reject) => {
      this.#subscribeAsk = { id, resolve, reject, list: [] };
      this.#write(TYPE.SUBSCRIBE, { id, ...fields });
    });
  }

  #subscription(msg) {
    const ask = this.#subscribeAsk;
    if (!ask || msg.id !== ask.id) return;
    if (msg.endpoint !== undefined) {
      ask.list.push({ app: msg.app, endpoint: msg.endpoint });
      return;
    }
    this.#subscribeAsk = null;
    if (msg.code) ask.reject(new HandoffError(ERRORS[msg.code] || String(msg.code), msg.text));
    else ask.resolve(ask.list);
  }

  #askPresence(resolve, reject) {
    const id = ++this.#nextPresenceId;
    this.#presenceAsks.set(id, { resolve, reject, devices: [] });
    this.#write(TYPE.PRESENCE_REQ, { id, follow: this.#follow ? 1 : 0 });
  }

  #presence(msg) {
    if (msg.id === undefined) {
      this.dispatchEvent(new CustomEvent('presence', { detail: { device: msg.device, online: msg.online === 1 } }));
      return;
    }
    if (msg.device !== undefined && msg.device_key !== undefined) this.#peerKeys.set(msg.device, msg.device_key);
    const ask = this.#presenceAsks.get(msg.id);
    if (!ask) return;
    if (msg.device !== undefined) {
      ask.devices.push({ device: msg.device, online: msg.online === 1 });
      return;
    }
    this.#presenceAsks.delete(msg.id);
    ask.resolve(ask.devices);
  }

  // A connection ended: its questions will not be answered.
  #dropPresenceAsks() {
    for (const ask of this.#presenceAsks.values()) ask.reject(new HandoffError('disconnected', 'the connection ended'));
    this.#presenceAsks.clear();
    this.#subscribeAsk?.reject(new HandoffError('disconnected', 'the connection ended'));
    this.#subscribeAsk = null;
    this.#wakeAsk?.reject(new HandoffError('disconnected', 'the connection ended'));
    this.#wakeAsk = null;
  }

  #setState(state) {
    if (this.#state === state) return;
    this.#state = state;
    const event = new CustomEvent('state', { detail: state });
    event.reason = this.#lastError;
    this.dispatchEvent(event);
  }

  #failed(failure) {
    this.#lastError = failure;
    this.#trace(failure.text);
  }

  #trace(text) {
    this.dispatchEvent(new CustomEvent('trace', { detail: text }));
  }

  #write(type, fields) {
    if (this.#ws && this.#ws.readyState === 1) this.#ws.send(encodeFrame(type, fields));
  }

  async #token() {
    const t = this.#opts.token;
    return typeof t === 'function' ? await t() : t;
  }

  // Whether a refusal stops the client: one no retry fixes, but for an
  // expired token when a provider can fetch a fresh one (called again on
  // the next attempt).
  #fatalCode(code) {
    return FATAL.has(code) && !(code === 'token_expired' && typeof this.#opts.token === 'function');
  }

  async #run() {
    while (!this.#stopped) {
      let urls;
      try {
        urls = await this.#allocate();
      } catch (e) {
        if (e instanceof HandoffError && this.#fatalCode(e.code)) return this.#fatal(e);
        this.#trace(`allocation failed: ${e.message}`);
        await this.#backoff();
        continue;
      }
      let connected = false;
      for (const url of urls) {
        if (this.#stopped) return;
        try {
          connected = (await this.#session(url)) || connected;
        } catch (e) {
          return this.#fatal(e);
        }
      }
      if (!connected) await this.#backoff();
    }
  }

  #fatal(e) {
    this.#lastError = { code: e.code, text: e.message };
    this.dispatchEvent(new CustomEvent('error', { detail: e }));
    this.stop();
  }

  async #allocate() {
    this.#setState('allocating');
    const token = await this.#token();
    let last = new Error('no allocator answered');
    for (const base of this.#opts.allocators) {
      try {
        const res = await this.#opts.fetch(`${base}?token=${encodeURIComponent(token)}`);
        const answer = await res.json();
        if (res.ok && answer.addresses?.length) {
          if (answer.backoff_base_ms) this.#opts.backoffBaseMs = answer.backoff_base_ms;
          if (answer.backoff_cap_ms) this.#opts.backoffCapMs = answer.backoff_cap_ms;
          this.#trace(`${base}: ${answer.addresses.join(', ')}`);
          return answer.addresses;
        }
        last = new HandoffError(answer.error || `http_${res.status}`, answer.text);
        this.#failed({ code: last.code, text: `allocator ${base}: ${last.message}` });
        if (this.#fatalCode(last.code)) throw last;
      } catch (e) {
        if (e instanceof HandoffError) {
          if (this.#fatalCode(e.code)) throw e;
          last = e;
          continue;
        }
        const failure = failureOf(e, `allocator ${base}`);
        this.#failed(failure);
        last = new HandoffError(failure.code, failure.text);
      }
    }
    throw last;
  }

  // Full jitter: a random wait up to base x 2^attempt, capped; at least
  // the retry_ms a server's refusal asked for (a connection limit).
  #backoff() {
    this.#setState('backing-off');
    const ceiling = Math.min(this.#opts.backoffCapMs, this.#opts.backoffBaseMs * 2 ** this.#attempt++);
    const wait = Math.max(this.#retryFloorMs, Math.random() * ceiling);
    this.#retryFloorMs = 0;
    this.#trace(`backing off ${Math.round(wait)} ms`);
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, wait);
      this.#wake = () => { clearTimeout(timer); resolve(); };
    });
  }

  // One connection to one URL; resolves true if it got as far as WELCOME.
  async #session(url) {
    this.#setState('connecting');
    const token = await this.#token();
    return new Promise((resolve, reject) => {
      const ws = new this.#opts.WebSocket(url);
      ws.binaryType = 'arraybuffer';
      this.#ws = ws;
      let buffer = new Uint8Array(0);
      let welcomed = false;
      let pingTimer = null, pongTimer = null, pingId = 0;
      const connectTimer = setTimeout(() => {
        this.#failed({ code: 'timed_out', text: `server ${url}: no WELCOME in time` });
        ws.close();
      }, this.#opts.connectTimeoutMs);
      const finish = () => {
        clearTimeout(connectTimer);
        clearInterval(pingTimer);
        clearTimeout(pongTimer);
        if (this.#ws === ws) this.#ws = null;
        this.#dropPresenceAsks();
        resolve(welcomed);
      };
      ws.onopen = () => {
        this.#write(TYPE.HELLO, { token, version_min: 1, version_max: 1,
          heartbeat_ms: this.#opts.heartbeatMs || undefined, device_key: this.#opts.pushKeys?.deviceKey });
      };
      ws.onclose = finish;
      ws.onerror = (event) => this.#failed(failureOf(event, `server ${url}`));
      ws.onmessage = (event) => {
        const data = new Uint8Array(event.data);
        const joined = new Uint8Array(buffer.length + data.length);
        joined.set(buffer);
        joined.set(data, buffer.length);
        let frames;
        [frames, buffer] = decodeFrames(joined);
        for (const [type, msg] of frames) {
          if (type === TYPE.WELCOME) {
            welcomed = true;
            this.#attempt = 0;
            clearTimeout(connectTimer);
            this.#features = msg.features || 0;
            this.#device = msg.device || '';
            this.#maxPayload = msg.max_payload || Math.max(0, (msg.max_frame || 262144) - 256);
            // Following: every device's state again, as events.
            if (this.#follow && (this.#features & PRESENCE_FEATURE)) {
              this.#askPresence((list) => list.forEach((d) =>
                this.dispatchEvent(new CustomEvent('presence', { detail: d }))), () => {});
            }
            this.#setState('connected');
            this.#ackUpto = 0;
            const interval = msg.heartbeat_ms || 30000;
            pingTimer = setInterval(() => {
              this.#write(TYPE.PING, { id: ++pingId });
              clearTimeout(pongTimer);
              pongTimer = setTimeout(() => { this.#trace(`${url}: no PONG`); ws.close(); },
                Math.min(this.#opts.pingTimeoutMs, interval));
            }, interval);
            // What was never answered goes again, with the same ids; what
            // this server will not take fails alone.
            for (const [id, p] of this.#pending) {
              if (p.fields.payload.length > this.#maxPayload) {
                this.#pending.delete(id);
                p.reject(new HandoffError('payload_too_large', `over this server's max_payload ${this.#maxPayload}`));
              } else {
                this.#write(TYPE.SEND, p.fields);
              }
            }
          } else if (type === TYPE.PONG) {
            clearTimeout(pongTimer);
          } else if (type === TYPE.SEND_ACK) {
            this.#answered(msg);
          } else if (type === TYPE.DELIVER) {
            this.#delivered(msg);
          } else if (type === TYPE.PRESENCE) {
            this.#presence(msg);
          } else if (type === TYPE.SUBSCRIPTION) {
            this.#subscription(msg);
          } else if (type === TYPE.WAKE_ACK) {
            this.#wakeAnswered(msg);
          } else if (type === TYPE.GOAWAY) {
            this.#trace(`${url}: GOAWAY, moving on`);
            ws.close(1001);
          } else if (type === TYPE.ERROR) {
            const code = ERRORS[msg.code] || String(msg.code);
            this.#failed({ code, text: `server ${url}: refused: ${code}: ${msg.text || ''}` });
            if (msg.retry_ms) this.#retryFloorMs = Math.max(this.#retryFloorMs, msg.retry_ms);
            if (this.#fatalCode(code)) {
              ws.close();
              reject(new HandoffError(code, msg.text));
            }
          }
        }
      };
    });
  }

  #answered(msg) {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (msg.status === STATUS.DELIVERED) p.resolve('delivered');
    else if (msg.status === STATUS.STORED) p.resolve('stored');
    else p.reject(new HandoffError(ERRORS[msg.code] || String(msg.code), msg.text, msg.retry_ms));
  }

  // A push waits for its decryption, and every message after it for its
  // turn: they are dispatched and acknowledged in order.
  #delivered(msg) {
    if (msg.app === undefined && !msg.e2e && this.#inboxWaiting === 0) {
      this.#take(msg, msg.payload);
      return;
    }
    this.#inboxWaiting++;
    const ws = this.#ws;
    this.#inbox = this.#inbox.then(async () => {
      let payload = msg.payload;
      const keys = this.#opts.pushKeys;
      if ((msg.app !== undefined || msg.e2e) && keys) {
        try {
          payload = msg.app !== undefined ? await keys.decrypt(msg.app, msg.payload) : await this.#openE2e(msg);
        } catch (e) {
          // It will not decrypt later either: refused, it goes to the
          // device's dead letters (and acknowledges what came before).
          this.#trace(`${msg.app !== undefined ? `push ${msg.id} for ${msg.app}` : `message ${msg.id} from ${msg.from}`}: ${e.message}; refused`);
          if (this.#ws === ws) this.#write(TYPE.DELIVER_ACK, { upto: msg.seq, code: 3, text: e.message });
          return;
        }
      }
      if (this.#ws === ws) this.#take(msg, payload);
    }).finally(() => { this.#inboxWaiting--; });
  }

  // An end-to-end message: its sender's key read first if need be, and
  // held to the key this device trusts for it.
  async #openE2e(msg) {
    const keys = this.#opts.pushKeys;
    if (!isE2e(msg.payload)) throw new TypeError('not an end-to-end message');
    if (!this.#peerKeys.has(msg.from)) await this.#presenceNow();
    const key = this.#peerKeys.get(msg.from);
    const state = keys.trust(msg.from, key);
    if (state === 'none') throw new TypeError(`${msg.from} published no keys`);
    if (state === 'changed') {
      const fingerprint = await keys.fingerprint(key);
      this.dispatchEvent(new CustomEvent('keychange', { detail: { device: msg.from, fingerprint } }));
      throw new TypeError(`the key of ${msg.from} changed (fingerprint now ${fingerprint})`);
    }
    if (e2eKind(msg.payload) !== E2E_APPROVAL) return keys.open(msg.from, this.#device, key, msg.payload);
    // Another device's approval of a key: applied, not shown (null).
    const approved = parseApproval(await keys.open(msg.from, this.#device, key, msg.payload, E2E_APPROVAL));
    if (!approved) throw new TypeError('not an approval: no device and key');
    if (approved.device !== this.#device) {
      keys.approve(approved.device, approved.key);
      const fingerprint = await keys.fingerprint(approved.key);
      this.dispatchEvent(new CustomEvent('keyapproved', { detail: { device: approved.device, by: msg.from, fingerprint } }));
    }
    return null;
  }

  #take(msg, payload) {
    const key = `${msg.from}\0${msg.id}`;
    if (payload === null) {
      // An approval, applied: nothing to show.
    } else if (this.#dispatched.has(key)) {
      this.#trace(`message ${msg.id} from ${msg.from} again: dispatched before, acknowledged, not dispatched`);
    } else {
      this.#dispatched.add(key);
      if (this.#dispatched.size > DISPATCHED_REMEMBERED) this.#dispatched.delete(this.#dispatched.values().next().value);
      const text = () => new TextDecoder().decode(payload);
      const detail = { from: msg.from, id: String(msg.id), seq: msg.seq, payload, storedAt: msg.stored_at_ms, text };
      // A push: its app and urgency (its payload decrypted with pushKeys).
      if (msg.app !== undefined) Object.assign(detail, { app: msg.app, urgency: URGENCIES[msg.urgency] || 'normal' });
      // Verified and decrypted with pushKeys (false: the server says it is not one).
      detail.e2e = Boolean(msg.e2e && this.#opts.pushKeys && msg.app === undefined);
      // The id in decimal, always: ids are 64-bit, and most (libhandoff's,
      // the HTTP API's) pass what a JavaScript number holds exactly.
      this.dispatchEvent(new CustomEvent('message', { detail }));
    }
    // Cumulative: one DELIVER_ACK for everything that arrived together.
    this.#ackUpto = Math.max(this.#ackUpto, msg.seq);
    if (!this.#ackScheduled) {
      this.#ackScheduled = true;
      queueMicrotask(() => {
        this.#ackScheduled = false;
        this.#write(TYPE.DELIVER_ACK, { upto: this.#ackUpto });
      });
    }
  }
}
