// What the flow pipeline's sweep of expired conntrack entries costs (the
// agent runs one every 5 s so connection ends come on time; see
// src/kernel-readers/conntrack-sweep.ts). A namespace's table is filled with N live
// UDP entries, then swept repeatedly; reported: the sweep's wall time p50 and
// max, and its ratio to a sweep of an empty table measured in the same run.
//   npm run build && npm run build:test && node bench/conntrack-sweep.js [--entries 0,10000,100000] [--runs 20]
// Needs root and conntrack.
import { parseArgs } from 'node:util';
import { sweepExpiredConnections } from '../dist/kernel-readers/conntrack-sweep.js';
import { Sandbox } from '../dist-test/test/support/sandbox.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '0,10000,100000' },
    runs: { type: 'string', default: '20' },
  },
});
const SIZES = values.entries.split(',').map(Number);
const RUNS = Number(values.runs);

/** N datagrams to N destination ports on loopback: N conntrack entries. */
const FILL = `
const dgram = require('node:dgram');
const [from, count] = process.argv.slice(1).map(Number);
const u = dgram.createSocket('udp4');
const b = Buffer.alloc(1);
let sent = 0, acked = 0;
const N = count;
const done = () => { if (++acked === N) u.close(); };
(function burst() {
  for (let i = 0; i < 500 && sent < N; i++, sent++) {
    const n = from + sent;
    u.send(b, 1024 + (n % 60000), '127.' + (1 + Math.floor(n / 60000)) + '.0.1', done);
  }
  if (sent < N) setImmediate(burst);
})();
`;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(sb, n) {
  const ns = await sb.netns(`s${n}`);
  await sb.exec(
    ns,
    'nft',
    ['-f', '-'],
    'table inet bench {\n chain out {\n  type filter hook output priority filter; policy accept;\n  ct state new counter\n }\n}\n',
  );
  await sb.exec(ns, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=600']);
  for (let from = 0; from < n; from += 50_000)
    await sb.exec(ns, process.execPath, [
      '-e',
      FILL,
      String(from),
      String(Math.min(50_000, n - from)),
    ]);
  const count = Number((await sb.exec(ns, 'conntrack', ['-C'])).trim());
  const ms = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    await sweepExpiredConnections({ netns: ns });
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { entries: count, p50: median(ms), max: Math.max(...ms) };
}

const sb = new Sandbox();
try {
  const rows = [];
  for (const n of SIZES) {
    process.stderr.write(`filling ${n} entries and sweeping ${RUNS} times…\n`);
    rows.push(await measure(sb, n));
  }
  const base = rows[0].p50;
  console.log('entries   sweep p50   sweep max   p50 / first row');
  for (const r of rows)
    console.log(
      `${String(r.entries).padStart(7)}   ${r.p50.toFixed(1).padStart(6)} ms   ${r.max.toFixed(1).padStart(6)} ms   ${(r.p50 / base).toFixed(2)}`,
    );
} finally {
  await sb.destroy();
}
