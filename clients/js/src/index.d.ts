// Types of the handoff JavaScript client (an ES module, no dependencies).

export type SendResult = 'delivered' | 'stored';
export type ClientState = 'idle' | 'allocating' | 'connecting' | 'connected' | 'backing-off' | 'stopped';

export interface HandoffOptions {
  /** URLs of allocators' /allocate endpoints, tried in turn. */
  allocators: string[];
  /** The device token (hf1 or JWT), or a function that fetches a fresh one from the web app's backend: called at
   * each attempt to connect, and again after token_expired, where a fixed token stops the client. */
  token: string | (() => string | Promise<string>);
  /** WebSocket constructor (default: globalThis.WebSocket). */
  WebSocket?: typeof WebSocket | any;
  /** fetch (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Heartbeat interval to ask for, ms (0: the server's choice). */
  heartbeatMs?: number;
  /** Per server URL: WebSocket + HELLO -> WELCOME, ms (default 5000). */
  connectTimeoutMs?: number;
  /** A PONG must come within, ms (default 10000, at most the interval). */
  pingTimeoutMs?: number;
  /** Backoff when every server failed, ms (defaults 500 and 30000; the allocator's hints override). */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** The device's Web Push keys: subscribe() needs them, and pushes are decrypted with them. */
  pushKeys?: PushKeys;
}

export interface HandoffMessage {
  from: string;
  /** The sender's id in decimal: ids are 64-bit (libhandoff's and the HTTP API's pass 2^53), as the HTTP API writes them. */
  id: string;
  seq: number;
  payload: Uint8Array;
  storedAt?: number;
  /** The payload as UTF-8 text. */
  text(): string;
  /** A Web Push message: the app whose subscription it came through (from is '+' and the app), and its Urgency. Its
   *  payload is decrypted with pushKeys. */
  app?: string;
  urgency?: 'very-low' | 'low' | 'normal' | 'high';
  /** An end-to-end message, verified with the sender's trusted key and decrypted with pushKeys. */
  e2e: boolean;
}

/** A device of the account by its published keys (docs/protocol.md, "Device keys"). */
export interface DeviceKeyState {
  device: string;
  online: boolean;
  /** Eight groups of four hex digits; null if it published no keys. */
  fingerprint: string | null;
  /** 'new' (first seen: trusted from now on), 'trusted', 'verified', 'changed' (not used until verified), 'none'. */
  state: 'new' | 'trusted' | 'verified' | 'changed' | 'none';
}

/** The standard PushSubscription JSON an application server takes (npm web-push's first argument). */
export interface PushSubscriptionJSON {
  endpoint: string;
  expirationTime: null;
  keys: { p256dh: string; auth: string };
}

/** A device's Web Push keys (RFC 8291), made and kept on the device: a P-256 ECDH pair and an auth secret per app. */
export class PushKeys {
  /** New keys; extractable false (the default) keeps the private key unreadable to scripts, and out of toJSON(). */
  static generate(options?: { extractable?: boolean }): Promise<PushKeys>;
  /** Keys from the handoff CLI's key file (handoff(1), --keys), as an object or its text. */
  static fromJSON(json: string | object): Promise<PushKeys>;
  /** The key file's JSON (extractable keys only). */
  toJSON(): Promise<object>;
  /** Keeps them in the browser's IndexedDB under name (the private key as a CryptoKey); load() reads them back, or
   *  null. */
  save(name?: string): Promise<void>;
  static load(name?: string): Promise<PushKeys | null>;
  /** The uncompressed public key, 65 bytes (the subscription's p256dh). */
  readonly publicKey: Uint8Array;
  /** Decrypts an aes128gcm body pushed to app; rejects with a TypeError if it is not one for these keys. */
  decrypt(app: string, body: Uint8Array): Promise<Uint8Array>;
  /** What the device publishes: its ECDH public key, then its ECDSA one (130 bytes). */
  readonly deviceKey: Uint8Array;
  /** The fingerprint of a device's keys (this device's by default). */
  fingerprint(key?: Uint8Array): Promise<string>;
  /** Where a peer's published key stands against the keys trusted here. */
  trust(device: string, key?: Uint8Array): DeviceKeyState['state'];
  /** Trusts the key if its fingerprint is the one read off that device. */
  verify(device: string, key: Uint8Array, fingerprint: string): Promise<boolean>;
  /** An end-to-end payload from this device (from) to a device (to, its published keys toKey), and back. */
  /** kind: 1 a message (the default), 2 an approval of another device's key (docs/protocol.md). */
  seal(from: string, to: string, toKey: Uint8Array, plaintext: string | Uint8Array, kind?: 1 | 2): Promise<Uint8Array>;
  open(from: string, to: string, fromKey: Uint8Array, payload: Uint8Array, kind?: 1 | 2): Promise<Uint8Array>;
  /** Takes device's key as verified: a device trusted here approved it. */
  approve(device: string, key: Uint8Array): void;
}

/** One device of the account and whether it is online (presence). */
export interface DevicePresence {
  device: string;
  online: boolean;
}

export class HandoffError extends Error {
  /** The protocol's error name: 'queue_full', 'bad_target', 'bad_token', ... */
  code: string;
  /** For 'rate_limited': when to try again. */
  retryMs?: number;
}

/** Why the client last failed: a protocol error name ('bad_token', 'store_unavailable', ...) or the connection's own
 *  ('certificate', 'refused', 'timed_out', 'reset', 'unreachable', 'connection_failed'), and a sentence. */
export interface HandoffFailure {
  code: string;
  text: string;
}

/** A 'state' event: detail is the new state, reason the last failure (null before any). */
export interface StateEvent extends CustomEvent<ClientState> {
  reason: HandoffFailure | null;
}

export class HandoffClient extends EventTarget {
  constructor(options: HandoffOptions);
  readonly state: ClientState;
  /** The last failure, or null. */
  readonly lastError: HandoffFailure | null;
  /** Starts connecting; runs until stop() or a refusal for good ('error' event). */
  start(): void;
  /** Closes; unanswered sends reject with code 'stopped'. */
  stop(): void;
  /** Sends to a device of the account, or '*' for all the others. A payload over the server's max_payload rejects at
   *  once with 'payload_too_large' and is never sent. */
  send(to: string, payload: string | Uint8Array, options?: { ttl?: number; collapse?: string; e2e?: boolean }):
    Promise<SendResult>;
  /** This device's fingerprint (needs pushKeys). */
  fingerprint(): Promise<string>;
  /** The account's devices with their fingerprints and how far this device trusts each (save pushKeys after). */
  deviceKeys(): Promise<DeviceKeyState[]>;
  /** Trusts device's current key if its fingerprint is the one read off that device. */
  verifyDevice(device: string, fingerprint: string): Promise<boolean>;
  /** As verifyDevice, then sends every other device with keys an approval of device's key: a device that trusts this
   *  one takes it as verified (a 'keyapproved' event there; save pushKeys after). */
  approveDevice(device: string, fingerprint: string): Promise<boolean>;
  /** Sets this device's wake route of one provider (docs/wake.md): { webpush: PushSubscriptionJSON },
   *  { fcm: { token } } or { apns: { token, topic, environment } }. Resolves to the daemon's VAPID key (null if it
   *  sends no Web Push wake-ups), a service worker subscription's applicationServerKey. Rejects 'not_supported' on a
   *  server without wake-ups, or with the server's reason ('bad_field'). */
  setWakeRoute(route: { webpush?: object; fcm?: { token: string };
    apns?: { token: string; topic: string; environment?: 'production' | 'development' } }): Promise<Uint8Array | null>;
  /** Drops this device's wake route of provider. */
  dropWakeRoute(provider: 'webpush' | 'fcm' | 'apns'): Promise<Uint8Array | null>;
  /** Asks only: the daemon's VAPID key, or null. */
  wakeKey(): Promise<Uint8Array | null>;
  /** The account's devices by name; with follow, a 'presence' event for every change after (and every device after a
   *  reconnect). Rejects with 'not_connected', or 'not_supported' on a server without presence. */
  devices(options?: { follow?: boolean }): Promise<DevicePresence[]>;
  /** This device's Web Push subscription for app (docs/push.md), as the PushSubscription its application server
   *  takes; applicationServerKey (base64url or bytes, the server's VAPID public key) restricts it to that server's
   *  pushes. Needs pushKeys; rejects with 'not_connected', 'not_supported', 'too_many_subscriptions', ... */
  subscribe(options: { app: string; applicationServerKey?: string | Uint8Array }): Promise<PushSubscriptionJSON>;
  /** Drops app's subscription: its endpoint answers 410 from then on. */
  unsubscribe(app: string): Promise<void>;
  /** This device's subscriptions. */
  subscriptions(): Promise<Array<{ app: string; endpoint: string }>>;
  addEventListener(type: 'presence', listener: (event: CustomEvent<DevicePresence>) => void): void;
  /** A device's key changed since it was trusted: end-to-end sends to it and messages from it stop until verified. */
  addEventListener(type: 'keychange', listener: (event: CustomEvent<{ device: string; fingerprint: string }>) => void):
    void;
  /** A device this one trusts approved another's key (by: the approving device); save pushKeys after. */
  addEventListener(type: 'keyapproved',
    listener: (event: CustomEvent<{ device: string; by: string; fingerprint: string }>) => void): void;
  addEventListener(type: 'message', listener: (event: CustomEvent<HandoffMessage>) => void): void;
  addEventListener(type: 'state', listener: (event: StateEvent) => void): void;
  addEventListener(type: 'error', listener: (event: CustomEvent<HandoffError>) => void): void;
  addEventListener(type: 'trace', listener: (event: CustomEvent<string>) => void): void;
}

export const TYPE: Readonly<Record<string, number>>;
export const STATUS: Readonly<{ DELIVERED: 0; STORED: 1; REJECTED: 2 }>;
export const ERRORS: Readonly<Record<number, string>>;
export function encodeFrame(type: number, fields?: Record<string, unknown>): Uint8Array;
export function decodeFrames(buffer: Uint8Array): [Array<[number, Record<string, any>]>, Uint8Array];

export interface TokenClaims {
  account: string;
  device: string;
  /** Unix seconds: ask the backend for a fresh token before then. */
  expiresAt: number;
  /** The hf1 key id, or a JWT's kid (absent when it has none). */
  keyId?: string;
  /** Unix ms when it was minted (absent in tokens minted before the claim existed). */
  issuedAtMs?: number;
}
/** A token's claims (hf1, or a JWT's sub, device, exp, kid and iat), read without the secret (only the server can tell it is genuine). Throws a TypeError on a malformed token. */
export function tokenClaims(token: string): TokenClaims;
