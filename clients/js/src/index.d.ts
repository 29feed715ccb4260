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
  send(to: string, payload: string | Uint8Array, options?: { ttl?: number; collapse?: string }): Promise<SendResult>;
  /** The account's devices by name; with follow, a 'presence' event for every change after (and every device after a
   *  reconnect). Rejects with 'not_connected', or 'not_supported' on a server without presence. */
  devices(options?: { follow?: boolean }): Promise<DevicePresence[]>;
  addEventListener(type: 'presence', listener: (event: CustomEvent<DevicePresence>) => void): void;
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
