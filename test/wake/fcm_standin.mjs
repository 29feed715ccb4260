// A stand-in for FCM HTTP v1 and Google's OAuth2 token endpoint, written
// from their documentation because the real ones cannot be reached from
// the test machines (docs/wake.md says so):
//   https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
//   https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
//   https://developers.google.com/identity/protocols/oauth2/service-account (the JWT-bearer grant, RFC 7523)
// It makes the service account (an RSA key) and writes its JSON key file,
// checks the assertion's RS256 signature and claims, hands out access
// tokens, checks each message's token, shape and priority, and answers the
// documented errors by the registration token's prefix:
//   unregistered-  404 UNREGISTERED        quota-once-  429 QUOTA_EXCEEDED (Retry-After: 1), then 200
//   unavailable-   503 UNAVAILABLE         invalid-     400 INVALID_ARGUMENT
//   sender-        403 SENDER_ID_MISMATCH  auth-once-   401 UNAUTHENTICATED, then 200
// Every request is a line of JSON in LOG: what came, and what was wrong.
// Usage: node fcm_standin.mjs CERT KEY CREDENTIALS_OUT LOG; prints "ready PORT".
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

const [cert, key, credentialsOut, log] = process.argv.slice(2);
const project = 'handoff-test';
const account = 'wake@handoff-test.iam.gserviceaccount.com';
const scope = 'https://www.googleapis.com/auth/firebase.messaging';
const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const tokens = new Map(); // access token -> expiry (ms)
const seen = new Set(); // registration tokens that failed once
let tokenUri;

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());
const record = (entry) => fs.appendFileSync(log, `${JSON.stringify(entry)}\n`);

// RFC 7523 section 3: iss, aud (the token endpoint), exp, iat; Google's
// scope; RS256 with the service account's key.
function checkAssertion(jwt) {
  const parts = (jwt || '').split('.');
  if (parts.length !== 3) return 'assertion is not a compact JWS';
  const header = b64json(parts[0]);
  const claims = b64json(parts[1]);
  if (header.alg !== 'RS256') return `alg ${header.alg}, not RS256`;
  const ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), publicKey,
    Buffer.from(parts[2], 'base64url'));
  if (!ok) return 'the signature does not verify with the service account key';
  const now = Date.now() / 1000;
  if (claims.iss !== account) return `iss ${claims.iss}`;
  if (claims.scope !== scope) return `scope ${claims.scope}`;
  if (claims.aud !== tokenUri) return `aud ${claims.aud}, not ${tokenUri}`;
  if (!(claims.iat <= now + 60 && claims.exp > now && claims.exp - claims.iat <= 3600)) return 'iat/exp';
  return null;
}

function answer(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const fcmError = (status, name, errorCode) => ({
  error: {
    code: status, status: name, message: errorCode || name,
    details: errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [],
  },
});

function token(req, res, body) {
  const form = new URLSearchParams(body);
  const problem = form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer'
    ? 'grant_type' : checkAssertion(form.get('assertion'));
  record({ path: '/token', problem });
  if (problem) return answer(res, 400, { error: 'invalid_grant', error_description: problem });
  const access = crypto.randomBytes(16).toString('hex');
  tokens.set(access, Date.now() + 3600 * 1000);
  return answer(res, 200, { access_token: access, expires_in: 3599, token_type: 'Bearer' });
}

function send(req, res, body) {
  const bearer = (req.headers.authorization || '').replace(/^Bearer /, '');
  let message = {};
  try { message = JSON.parse(body).message || {}; } catch { /* checked below */ }
  const registration = message.token || '';
  let problem = null;
  if (!tokens.has(bearer) || tokens.get(bearer) < Date.now()) problem = 'access token';
  else if (req.headers['content-type'] !== 'application/json') problem = 'content-type';
  else if (!registration) problem = 'message.token';
  else if (message.notification) problem = 'not data-only: a notification';
  else if (!message.data || Object.values(message.data).some((v) => typeof v !== 'string')) problem = 'data';
  else if ((message.android || {}).priority !== 'high') problem = 'android.priority is not high';
  else if (!/^\d+s$/.test((message.android || {}).ttl || '')) problem = 'android.ttl';
  const once = (prefix) => registration.startsWith(prefix) && !seen.has(registration) && seen.add(registration);
  record({ path: req.url, registration, data: message.data, problem });
  if (problem === 'access token') return answer(res, 401, fcmError(401, 'UNAUTHENTICATED'));
  if (problem) return answer(res, 400, fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'));
  if (registration.startsWith('unregistered-')) return answer(res, 404, fcmError(404, 'NOT_FOUND', 'UNREGISTERED'));
  if (registration.startsWith('unavailable-')) return answer(res, 503, fcmError(503, 'UNAVAILABLE', 'UNAVAILABLE'));
  if (registration.startsWith('invalid-')) return answer(res, 400, fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'));
  if (registration.startsWith('sender-')) {
    return answer(res, 403, fcmError(403, 'PERMISSION_DENIED', 'SENDER_ID_MISMATCH'));
  }
  if (once('quota-once-')) {
    return answer(res, 429, fcmError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED'), { 'retry-after': '1' });
  }
  if (once('auth-once-')) {
    tokens.delete(bearer); // as a revoked access token
    return answer(res, 401, fcmError(401, 'UNAUTHENTICATED'));
  }
  return answer(res, 200, { name: `projects/${project}/messages/${crypto.randomInt(1e9)}` });
}

const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    if (req.method === 'POST' && req.url === '/token') return token(req, res, body);
    if (req.method === 'POST' && req.url === `/v1/projects/${project}/messages:send`) return send(req, res, body);
    record({ path: req.url, problem: 'no such route' });
    return answer(res, 404, fcmError(404, 'NOT_FOUND'));
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  tokenUri = `https://127.0.0.1:${port}/token`;
  fs.writeFileSync(credentialsOut, JSON.stringify({
    type: 'service_account', project_id: project, private_key_id: 'k1',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), client_email: account,
    token_uri: tokenUri,
  }));
  console.log(`ready ${port}`);
});
