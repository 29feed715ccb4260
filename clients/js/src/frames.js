// The handoff frame codec (docs/protocol.md sections 2-4): type, flags, a
// varint body length, then fields of varint tag, varint length, value.
// Values are unsigned varints, UTF-8 strings or bytes, by tag.

export const TYPE = Object.freeze({
  ALLOC_REQ: 1, ALLOC_RESP: 2, HELLO: 3, WELCOME: 4, PING: 5, PONG: 6, SEND: 7, SEND_ACK: 8,
  DELIVER: 9, DELIVER_ACK: 10, GOAWAY: 11, ERROR: 12, PRESENCE_REQ: 15, PRESENCE: 16,
  SUBSCRIBE: 17, SUBSCRIPTION: 18, WAKE: 19, WAKE_ACK: 20,
});

export const STATUS = Object.freeze({ DELIVERED: 0, STORED: 1, REJECTED: 2 });

// Error codes by number (protocol.md section 7), for messages and for
// telling a refusal for good (bad token) from one worth retrying.
// test/style/tables.py checks this table against include/handoff/protocol.h.
export const ERRORS = Object.freeze({
  1: 'bad_frame', 2: 'frame_too_large', 3: 'bad_field', 4: 'missing_field', 5: 'duplicate_field',
  6: 'unknown_critical', 7: 'unexpected_type', 8: 'unsupported_version', 9: 'bad_token',
  10: 'token_expired', 11: 'unknown_key', 12: 'forbidden', 13: 'bad_target', 14: 'no_target',
  15: 'queue_full', 16: 'store_full', 17: 'store_unavailable', 18: 'ttl_too_long', 19: 'rate_limited',
  20: 'too_many_connections', 21: 'timeout', 22: 'replaced', 23: 'shutting_down', 24: 'internal',
  25: 'bad_ack', 26: 'too_many_fields', 27: 'auth_failed', 29: 'no_server', 30: 'payload_too_large',
  31: 'unknown_device', 32: 'revoked', 33: 'disconnected', 34: 'wrong_server', 35: 'account_full',
  36: 'too_many_subscriptions',
});

// tag -> [name, kind]: 'u' unsigned varint, 's' string, 'b' bytes.
const TAGS = {
  1: ['token', 's'], 2: ['version_min', 'u'], 3: ['version_max', 'u'], 4: ['version', 'u'],
  5: ['id', 'u'], 6: ['to', 's'], 7: ['from', 's'], 8: ['seq', 'u'], 9: ['ttl', 'u'],
  10: ['collapse', 's'], 11: ['payload', 'b'], 12: ['status', 'u'], 13: ['code', 'u'],
  14: ['text', 's'], 15: ['heartbeat_ms', 'u'], 16: ['timeout_ms', 'u'], 17: ['window', 'u'],
  18: ['max_frame', 'u'], 19: ['address', 's'], 20: ['heartbeat_min_ms', 'u'],
  21: ['heartbeat_max_ms', 'u'], 22: ['backoff_base_ms', 'u'], 23: ['backoff_cap_ms', 'u'],
  24: ['upto', 'u'], 25: ['stored_at_ms', 'u'], 26: ['delivered_count', 'u'],
  27: ['stored_count', 'u'], 28: ['rejected_count', 'u'], 29: ['server_id', 's'],
  35: ['device', 's'], 36: ['retry_ms', 'u'], 38: ['max_payload', 'u'], 39: ['follow', 'u'],
  40: ['online', 'u'], 41: ['count', 'u'], 42: ['features', 'u'],
  46: ['app', 's'], 47: ['vapid_key', 'b'], 48: ['endpoint', 's'], 49: ['urgency', 'u'], 50: ['remove', 'u'],
  51: ['device_key', 'b'], 52: ['e2e', 'u'],
  53: ['route', 's'], 54: ['provider', 's'],
};
const TAG_OF = Object.fromEntries(Object.entries(TAGS).map(([tag, [name]]) => [name, Number(tag)]));
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function putVarint(out, value) {
  let v = BigInt(value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
}

function readVarint(bytes, pos) {
  let v = 0n;
  for (let shift = 0n; pos < bytes.length && shift < 70n; shift += 7n) {
    const b = bytes[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v, pos];
  }
  return null; // incomplete (or too long: the caller treats both as not ready)
}

// One frame of `type` with `fields` ({name: value}); returns a Uint8Array.
export function encodeFrame(type, fields = {}) {
  const body = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    const tag = TAG_OF[name];
    if (!tag) throw new Error(`unknown field ${name}`);
    const kind = TAGS[tag][1];
    let bytes;
    if (kind === 'u') { bytes = []; putVarint(bytes, value); }
    else if (kind === 's') bytes = utf8.encode(String(value));
    else bytes = value instanceof Uint8Array ? value : utf8.encode(String(value));
    putVarint(body, tag);
    putVarint(body, bytes.length);
    for (const b of bytes) body.push(b);
  }
  const head = [type, 0];
  putVarint(head, body.length);
  return Uint8Array.from([...head, ...body]);
}

// Takes whole frames off the front of a byte stream: returns
// [[type, fields], ...] and the bytes left over.
export function decodeFrames(buffer) {
  const frames = [];
  let pos = 0;
  while (buffer.length - pos >= 3) {
    const len = readVarint(buffer, pos + 2);
    if (!len || len[1] + len[0] > buffer.length) break;
    const [bodyLen, start] = len;
    frames.push([buffer[pos], parseFields(buffer.subarray(start, start + bodyLen))]);
    pos = start + bodyLen;
  }
  return [frames, buffer.subarray(pos)];
}

// Fields of a frame body (or of a token's claims, with their own tag table)
// into {name: value}.
export function parseFields(body, tags = TAGS) {
  const msg = {};
  let pos = 0;
  while (pos < body.length) {
    const tag = readVarint(body, pos);
    const len = tag && readVarint(body, tag[1]);
    if (!len) throw new Error('malformed frame from the server');
    const value = body.subarray(len[1], len[1] + len[0]);
    pos = len[1] + len[0];
    const [name, kind] = tags[tag[0]] || [String(tag[0]), 'b'];
    let v = value;
    if (kind === 'u') v = readVarint(value, 0)[0];
    else if (kind === 's') v = fromUtf8.decode(value);
    if (name === 'address') (msg.addresses ||= []).push(v);
    else msg[name] = v;
  }
  return msg;
}
