// An application server for test/integration/27_webpush.py: npm web-push,
// as a backend uses it, driven by one JSON command on argv and answering
// one JSON line on stdout.
//   {"do": "keys"}                                   -> {"publicKey", "privateKey"}
//   {"do": "send", "subscription", "payload", "options"}
//                                                    -> {"status", "headers", "body"}
//   {"do": "vapid", "audience", "publicKey", "privateKey", "exp"}
//                                                    -> {"authorization"}: a VAPID header with any exp,
//                                                       signed here (web-push refuses to sign a past one)
import { createPrivateKey, sign } from 'node:crypto';
import webpush from 'web-push';

const command = JSON.parse(process.argv[2]);
const out = (value) => process.stdout.write(JSON.stringify(value) + '\n');

function vapid({ audience, publicKey, privateKey, exp }) {
  const pub = Buffer.from(publicKey, 'base64url');
  const key = createPrivateKey({
    key: { kty: 'EC', crv: 'P-256', d: privateKey, x: pub.subarray(1, 33).toString('base64url'),
           y: pub.subarray(33, 65).toString('base64url') },
    format: 'jwk',
  });
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = part({ typ: 'JWT', alg: 'ES256' }) + '.' + part({ aud: audience, exp, sub: 'mailto:test@example.org' });
  const signature = sign('sha256', Buffer.from(signed), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return { authorization: `vapid t=${signed}.${signature}, k=${publicKey}` };
}

if (command.do === 'keys') {
  out(webpush.generateVAPIDKeys());
} else if (command.do === 'vapid') {
  out(vapid(command));
} else if (command.do === 'send') {
  webpush.sendNotification(command.subscription, command.payload, command.options || {})
    .then((r) => out({ status: r.statusCode, headers: r.headers, body: r.body }))
    .catch((e) => out({ status: e.statusCode || 0, headers: e.headers || {}, body: e.body || String(e) }));
} else {
  process.stderr.write('appserver.mjs: unknown command\n');
  process.exit(2);
}
