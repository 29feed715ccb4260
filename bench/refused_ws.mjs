// What a full address costs: HOLD browser devices (the JavaScript client,
// over `ws`) fill limits.max_connections_per_address, then CLIENTS more
// start from the same address and are refused. Counts, per WINDOW
// seconds, the refused clients' upgrade attempts (their 'connecting'
// states), the connections the daemon refused (handoff_limit_hits_total
// of that limit, from /metrics: each attempt is an /allocate request and
// an upgrade, both past the limit) and the daemon's CPU; prints a row per
// window and one JSON line. Stops by itself after SECONDS.
//   node bench/refused_ws.mjs --allocate URL --metrics HOST:PORT --dir DIR --pid PID
//        [--hold N] [--clients N] [--seconds S] [--window S]
// DIR: the folder `handoffd --dev -t` wrote (token.secret); run with
// NODE_EXTRA_CA_CERTS=DIR/ca.pem.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { HandoffClient } from '../clients/js/src/index.js';
import { mintToken } from '../clients/js/test/relay.js';

const WebSocket = createRequire(new URL('../clients/js/package.json', import.meta.url))('ws');

const args = { hold: 10, clients: 200, seconds: 60, window: 10 };
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['hold', 'clients', 'seconds', 'window', 'pid']) args[k] = Number(args[k]);
for (const k of ['allocate', 'metrics', 'dir', 'pid']) {
  if (!args[k]) {
    console.error(`refused_ws: --${k} is required`);
    process.exit(2);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ticks = 100; // USER_HZ: /proc's clock ticks a second on Linux

async function refusals() {
  const text = await (await fetch(`http://${args.metrics}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('handoff_limit_hits_total{limit="limits.max_connections_per_address"}'));
  return line ? Number(line.split(' ').pop()) : 0;
}

function daemonCpuSeconds() {
  const fields = readFileSync(`/proc/${args.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks; // utime, stime
}

function start(device) {
  const c = new HandoffClient({ allocators: [args.allocate], token: mintToken(args.dir, 'bench', device), WebSocket });
  c.start();
  return c;
}

const held = [];
for (let i = 0; i < args.hold; i++) held.push(start(`held${i}`));
await Promise.all(held.map((c) => new Promise((resolve) => {
  c.addEventListener('state', (e) => { if (e.detail === 'connected') resolve(); });
})));

const refused = [];
const reasons = new Set();
let attempts = 0;
let before = await refusals(), cpuBefore = daemonCpuSeconds();
const begin = Date.now();
for (let i = 0; i < args.clients; i++) {
  const c = start(`refused${i}`);
  c.addEventListener('state', (e) => {
    if (e.reason) reasons.add(e.reason.code);
    if (e.detail === 'connecting') attempts++;
  });
  refused.push(c);
}

const rows = [];
for (let t = args.window; t <= args.seconds; t += args.window) {
  await sleep(begin + t * 1000 - Date.now());
  const now = await refusals(), cpu = daemonCpuSeconds();
  rows.push({ from_s: t - args.window, to_s: t, attempts_per_s: attempts / args.window,
    refused_conns_per_s: (now - before) / args.window, daemon_cpu_ms_per_s: ((cpu - cpuBefore) * 1000) / args.window });
  attempts = 0;
  before = now;
  cpuBefore = cpu;
}
[...held, ...refused].forEach((c) => c.stop());

console.log(`scenario                 refused-ws`);
console.log(`held                     ${args.hold} devices (the address's limit)`);
console.log(`refused                  ${args.clients} more from that address`);
console.log(`reasons                  ${[...reasons].join(',')}`);
console.log('window_s   upgrades/s   refused_conns/s   daemon_cpu_ms/s');
const cell = (v, width) => v.toFixed(1).padStart(width);
for (const r of rows) {
  console.log(`${`${r.from_s}-${r.to_s}`.padEnd(10)} ${cell(r.attempts_per_s, 10)}   ${cell(r.refused_conns_per_s, 15)}   ` +
    cell(r.daemon_cpu_ms_per_s, 15));
}
const first = rows[0], last = rows[rows.length - 1];
console.log(JSON.stringify({ scenario: 'refused-ws', held: args.hold, refused: args.clients, seconds: args.seconds,
  reasons: [...reasons], first_attempts_per_s: first.attempts_per_s, last_attempts_per_s: last.attempts_per_s,
  last_refused_conns_per_s: last.refused_conns_per_s, last_daemon_cpu_ms_per_s: last.daemon_cpu_ms_per_s, windows: rows }));
process.exit(reasons.has('too_many_connections') ? 0 : 1);
