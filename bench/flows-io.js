// CPU and memory of the flow readers while they ingest a steady event rate.
//   npm run build && npm run build:test && node bench/flows-io.js [--rate 10000] [--seconds 10]
//     [--only nflog|conntrack]
// nflog: a sender namespace sends UDP at --rate packets/s to a namespace whose
// input chain logs each one (`log group 5 queue-threshold 1`) and drops it;
// NflogReader (tcpdump -i nflog:5) decodes them and a consumer counts them.
// conntrack: a client sends UDP at --rate datagrams/s through a router
// namespace to ever-changing destination ports, so each is a new connection;
// ConntrackReader (conntrack -E) in the router reads the NEW events.
// Reported per reader: events/s received, CPU of this Node process (parsing
// and consuming) and of the tool, in % of one core, and resident memory.
// Needs root, tcpdump and conntrack.
import { readFileSync } from 'node:fs';
import { clearInterval, setInterval } from 'node:timers';
import { parseArgs } from 'node:util';
import { run } from '../dist/host/exec.js';
import { ConntrackReader } from '../dist/kernel-readers/conntrack-reader.js';
import { NflogReader } from '../dist/kernel-readers/nflog-reader.js';
import { Sandbox } from '../dist-test/test/support/sandbox.js';
import { veth } from '../dist-test/test/support/netpair.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    only: { type: 'string' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
if (!(RATE > 0) || !(SECONDS > 0)) throw new Error('bad --rate/--seconds');

/** Sends UDP at a steady rate for a duration; `ports` > 1 cycles destination ports. */
const PACED = `
const dgram = require('node:dgram');
const [host, port, rate, seconds, ports] = process.argv.slice(1).map((x, i) => (i ? Number(x) : x));
const u = dgram.createSocket('udp4');
const b = Buffer.alloc(16);
const start = Date.now();
let sent = 0;
const timer = setInterval(() => {
  const elapsed = (Date.now() - start) / 1000;
  const due = Math.min(rate * seconds, Math.floor(rate * elapsed));
  for (; sent < due; sent++) u.send(b, port + (sent % ports), host);
  if (elapsed >= seconds) { clearInterval(timer); setTimeout(() => { console.log(sent); u.close(); }, 200); }
}, 5);
`;

const CLK_TCK = 100;
function procCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
function procRssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Runs `send` while sampling this process and the tool; returns the figures. */
async function measure(name, reader, toolPid, send) {
  const baseRss = process.memoryUsage().rss / 1e6;
  let count = 0;
  const byType = {};
  const consuming = (async () => {
    for await (const e of reader) {
      count++;
      const k = e.type ?? 'drop';
      byType[k] = (byType[k] ?? 0) + 1;
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  const cpu0 = process.cpuUsage();
  const tool0 = procCpuSeconds(toolPid);
  const t0 = Date.now();
  const n0 = count;
  let maxRss = 0;
  let maxToolRss = 0;
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss / 1e6);
    maxToolRss = Math.max(maxToolRss, procRssMb(toolPid));
  }, 200);
  const sent = Number(await send());
  await new Promise((r) => setTimeout(r, 500));
  clearInterval(sampler);
  const wall = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const tool = procCpuSeconds(toolPid) - tool0;
  const stats = reader.stats();
  await reader.close();
  await consuming;
  const got = count - n0;
  console.log(
    `${name}: sent ${sent} in ${SECONDS} s (${(sent / SECONDS).toFixed(0)}/s), received ${got} ` +
      `(${(got / wall).toFixed(0)}/s over ${wall.toFixed(1)} s)\n` +
      `  node (parse + consume): ${((100 * (cpu.user + cpu.system)) / 1e6 / wall).toFixed(1)}% of a core, ` +
      `max RSS ${maxRss.toFixed(0)} MB (heap now ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB)\n` +
      `  ${name === 'nflog' ? 'tcpdump' : 'conntrack'}: ${((100 * tool) / wall).toFixed(1)}% of a core, ` +
      `max RSS ${maxToolRss.toFixed(0)} MB\n` +
      `  events by type: ${JSON.stringify(byType)}; RSS before the run ${baseRss.toFixed(0)} MB\n` +
      `  reader stats: ${JSON.stringify(stats)}`,
  );
}

async function benchNflog(sb) {
  const cli = await sb.netns('cli');
  const srv = await sb.netns('srv');
  const l = await veth(sb, cli, srv, '10.241.1', 'fd00:241:1');
  await sb.exec(
    srv,
    'nft',
    ['-f', '-'],
    'table inet bench {\n chain input {\n  type filter hook input priority filter; policy accept;\n' +
      '  udp dport 9999 counter log group 5 prefix "bench" queue-threshold 1 drop\n }\n}\n',
  );
  const reader = await NflogReader.start({ group: 5, netns: srv });
  await measure('nflog', reader, reader.pid, () =>
    sb.exec(cli, process.execPath, ['-e', PACED, l.b4, '9999', String(RATE), String(SECONDS), '1']),
  );
  const out = await sb.exec(srv, 'nft', ['list', 'chain', 'inet', 'bench', 'input']);
  console.log(`  logged by the kernel: ${/counter packets (\d+)/.exec(out)?.[1]}`);
}

async function benchConntrack(sb) {
  const c = await sb.netns('c');
  const r = await sb.netns('r');
  const s = await sb.netns('s');
  const cr = await veth(sb, c, r, '10.242.1', 'fd00:242:1', { a: 'v0', b: 'c0' });
  const rs = await veth(sb, r, s, '10.242.2', 'fd00:242:2', { a: 's0', b: 'v0' });
  await run('ip', ['-n', c, 'route', 'add', 'default', 'via', cr.b4]);
  await run('ip', ['-n', s, 'route', 'add', 'default', 'via', rs.a4]);
  await sb.exec(
    r,
    'nft',
    ['-f', '-'],
    'table inet bench {\n chain fw {\n  type filter hook forward priority filter; policy accept;\n  ct state new counter\n }\n}\n',
  );
  // Short-lived entries keep the (machine-wide) conntrack table small.
  await sb.exec(r, 'sysctl', [
    '-qw',
    'net.ipv4.ip_forward=1',
    'net.netfilter.nf_conntrack_udp_timeout=2',
  ]);
  const reader = await ConntrackReader.start({ netns: r });
  await measure('conntrack', reader, reader.pid, () =>
    sb.exec(c, process.execPath, [
      '-e',
      PACED,
      rs.b4,
      '10000',
      String(RATE),
      String(SECONDS),
      '50000',
    ]),
  );
}

const sb = new Sandbox();
try {
  if (values.only !== 'conntrack') await benchNflog(sb);
  if (values.only !== 'nflog') await benchConntrack(sb);
} finally {
  await sb.destroy();
}
