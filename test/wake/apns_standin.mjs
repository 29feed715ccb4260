// A stand-in for APNs, written from Apple's documentation because the
// real service cannot be reached from the test machines (docs/wake.md
// says so):
//   "Sending notification requests to APNs" (HTTP/2, the headers),
//   "Establishing a token-based connection to APNs" (the ES256 provider token),
//   "Handling notification responses from APNs" (the status codes and reasons).
// HTTP/2 only (an HTTP/1.1 request is refused). It makes the .p8 key and
// writes it, checks the provider token (alg ES256, kid, iss, iat within
// the hour, the signature), the path and the headers a background push
// needs (apns-push-type background, apns-priority 5, apns-topic,
// apns-expiration, apns-collapse-id of at most 64 bytes) and the payload
// (content-available 1, no alert), and answers the documented errors by
// the device token's first digits:
//   0410  410 Unregistered          0400  400 BadDeviceToken
//   0429  429 TooManyRequests       0503  503 ServiceUnavailable
//   0403  403 ExpiredProviderToken once, then 200
//   0401  400 TopicDisallowed
// Every request is a line of JSON in LOG: what came, and what was wrong.
// Usage: node apns_standin.mjs CERT KEY P8_OUT KEY_ID TEAM_ID TOPIC LOG; prints "ready PORT".
import crypto from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';

const [cert, key, p8Out, keyId, teamId, topic, log] = process.argv.slice(2);
const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
fs.writeFileSync(p8Out, privateKey.export({ type: 'pkcs8', format: 'pem' }));
const seen = new Set();
const record = (entry) => fs.appendFileSync(log, `${JSON.stringify(entry)}\n`);
const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());

function checkProviderToken(authorization) {
  const jwt = (authorization || '').replace(/^bearer /, '');
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'MissingProviderToken';
  const header = b64json(parts[0]);
  const claims = b64json(parts[1]);
  if (header.alg !== 'ES256' || header.kid !== keyId) return 'InvalidProviderToken';
  const ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2], 'base64url'));
  if (!ok || claims.iss !== teamId) return 'InvalidProviderToken';
  const age = Date.now() / 1000 - claims.iat;
  if (!(age > -60 && age < 3600)) return 'ExpiredProviderToken';
  return null;
}

function checkRequest(headers, body) {
  if (headers[':method'] !== 'POST') return 'MethodNotAllowed';
  const token = (headers[':path'] || '').replace(/^\/3\/device\//, '');
  if (!/^[0-9a-f]{64,}$/.test(token)) return 'BadDeviceToken';
  const provider = checkProviderToken(headers.authorization);
  if (provider) return provider;
  if (headers['apns-topic'] !== topic) return headers['apns-topic'] ? 'TopicDisallowed' : 'MissingTopic';
  if (headers['apns-push-type'] !== 'background') return 'InvalidPushType';
  if (headers['apns-priority'] !== '5') return 'BadPriority'; // a background push must be 5
  if (!/^\d+$/.test(headers['apns-expiration'] || '')) return 'BadExpirationDate';
  if (Buffer.byteLength(headers['apns-collapse-id'] || '') > 64) return 'BadCollapseId';
  let payload;
  try { payload = JSON.parse(body); } catch { return 'PayloadEmpty'; }
  if (!payload.aps || payload.aps['content-available'] !== 1 || payload.aps.alert) return 'BadPayload';
  return null;
}

const errors = {
  '0410': [410, 'Unregistered'], '0400': [400, 'BadDeviceToken'], '0429': [429, 'TooManyRequests'],
  '0503': [503, 'ServiceUnavailable'], '0401': [400, 'TopicDisallowed'],
};

const server = http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), allowHTTP1: false });
server.on('stream', (stream, headers) => {
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const token = (headers[':path'] || '').replace(/^\/3\/device\//, '');
    let problem = checkRequest(headers, body);
    const prefix = token.slice(0, 4);
    let [status, reason] = problem ? [problem.endsWith('ProviderToken') ? 403 : 400, problem] : [200, null];
    if (!problem && prefix === '0403' && !seen.has(token)) {
      seen.add(token);
      [status, reason] = [403, 'ExpiredProviderToken'];
    } else if (!problem && errors[prefix]) {
      [status, reason] = errors[prefix];
    }
    record({ path: headers[':path'], topic: headers['apns-topic'], pushType: headers['apns-push-type'],
      priority: headers['apns-priority'], collapse: headers['apns-collapse-id'], payload: body, problem, status });
    const id = crypto.randomUUID().toUpperCase();
    if (status === 200) {
      stream.respond({ ':status': 200, 'apns-id': id });
      stream.end();
      return;
    }
    const answer = { reason };
    if (status === 410) answer.timestamp = Date.now();
    stream.respond({ ':status': status, 'apns-id': id, 'content-type': 'application/json' });
    stream.end(JSON.stringify(answer));
  });
});
server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
