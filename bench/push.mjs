// Web Push against the HTTP API (docs/push.md, docs/benchmarks.md): how
// many pushes a second handoffd accepts (201) from application servers,
// and the daemon CPU each costs, beside API sends (POST
// /v1/accounts/{account}/messages, 200) of the same size to the same kind
// of device, away, so both are stored. The push bodies are encrypted once
// by npm web-push (test/webpush's), as an application server would; the
// relay passes them through, so one body serves every push. Each phase
// runs --seconds at --concurrency requests in flight over keep-alive
// connections; CPU is the daemon's utime + stime (/proc/PID/stat).
//
//   node bench/push.mjs --pid PID --api https://127.0.0.1:PORT --ca CA --key-file API_SECRET
//        --subscription SUB.json [--seconds 10] [--concurrency 32] [--size 256]
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../test/webpush/package.json', import.meta.url));
const webpush = require('web-push');

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) =>
  (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const seconds = Number(args.seconds || 10), concurrency = Number(args.concurrency || 32);
const size = Number(args.size || 256);
const ca = readFileSync(args.ca);
const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency, ca });
const apiKey = readFileSync(args['key-file'], 'utf8').trim();
const subscription = JSON.parse(readFileSync(args.subscription, 'utf8'));

// The daemon's CPU so far, in seconds (clock ticks of 1/100 s).
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function request(url, method, headers, body) {
  return new Promise((resolve) => {
    const req = https.request(url, { method, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

// concurrency loops, each sending one request after the other until the
// time is up: { accepted, refused, seconds, cpu }.
async function phase(send, okStatus) {
  const cpuBefore = cpuSeconds(args.pid), started = performance.now(), until = started + seconds * 1000;
  let accepted = 0, refused = 0;
  const loop = async () => {
    while (performance.now() < until) {
      if ((await send()) === okStatus) accepted++;
      else refused++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { accepted, refused, seconds: (performance.now() - started) / 1000, cpu: cpuSeconds(args.pid) - cpuBefore };
}

const plaintext = 'x'.repeat(size);
// web-push's request for one push: its headers (TTL, Content-Encoding,
// no VAPID: the subscription names no key) and aes128gcm body.
const details = webpush.generateRequestDetails(subscription, plaintext, { TTL: 3600 });
const apiBody = JSON.stringify({ to: 'phone', data: plaintext, ttl: 3600 });
const apiHeaders = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

const results = {
  api: await phase(() => request(`${args.api}/v1/accounts/bench-api/messages`, 'POST', apiHeaders, apiBody), 200),
  push: await phase(() => request(details.endpoint, 'POST', details.headers, details.body), 201),
};
agent.destroy();

console.log(`${'path'.padEnd(6)} ${'accepted'.padStart(9)} ${'refused'.padStart(8)} ${'per s'.padStart(8)} ` +
  `${'cpu us/req'.padStart(10)}  (${size}-byte messages, ${concurrency} in flight, ${seconds} s each)`);
let failed = false;
for (const [path, r] of Object.entries(results)) {
  const rate = r.accepted / r.seconds, cpuUs = (r.cpu * 1e6) / Math.max(1, r.accepted);
  console.log(`${path.padEnd(6)} ${String(r.accepted).padStart(9)} ${String(r.refused).padStart(8)} ` +
    `${rate.toFixed(0).padStart(8)} ${cpuUs.toFixed(1).padStart(10)}`);
  failed ||= r.accepted === 0 || r.refused > 0;
}
for (const [path, r] of Object.entries(results)) {
  console.log(JSON.stringify({ scenario: 'push', path, size, concurrency, accepted: r.accepted, refused: r.refused,
    per_second: Math.round(r.accepted / r.seconds), daemon_cpu_us_per_request: +((r.cpu * 1e6) / Math.max(1, r.accepted)).toFixed(1) }));
}
process.exit(failed ? 1 : 0);
