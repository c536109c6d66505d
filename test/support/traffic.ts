import type { Sandbox } from './sandbox.js';

/** Node scripts run inside a namespace: a TCP+UDP echo server and one-shot clients. */
const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const [host, port] = process.argv.slice(1);
const family = host.includes(':') ? 'udp6' : 'udp4';
net.createServer((s) => s.pipe(s)).listen(Number(port), host);
const u = dgram.createSocket(family);
u.on('message', (m, r) => u.send(m, r.port, r.address));
u.bind(Number(port), host, () => console.log('listening'));
`;

const TCP_CLIENT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), timeout: 2000 }, () => s.write('ping'));
s.on('data', (d) => { console.log(String(d)); s.destroy(); });
s.on('timeout', () => { console.log('timeout'); s.destroy(); process.exitCode = 2; });
s.on('error', (e) => { console.log(e.code); process.exitCode = 3; });
`;

const UDP_CLIENT = `
const dgram = require('node:dgram');
const [host, port] = process.argv.slice(1);
const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
const t = setTimeout(() => { console.log('timeout'); process.exitCode = 2; u.close(); }, 2000);
u.on('message', (m) => { console.log(String(m)); clearTimeout(t); u.close(); });
u.send('ping', Number(port), host);
`;

/** Starts an echo server (TCP and UDP on one port) in `ns`; resolves once it listens. */
export async function echoServer(
  sb: Sandbox,
  ns: string,
  host: string,
  port: number,
): Promise<void> {
  const child = sb.spawnIn(ns, process.execPath, ['-e', SERVER, host, String(port)]);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`echo server in ${ns} did not start`)), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`echo server in ${ns} exited ${code}`)));
  });
}

/** One TCP or UDP round trip from `ns` to host:port; 'ping' on success, else why not. */
export async function probe(
  sb: Sandbox,
  ns: string,
  protocol: 'tcp' | 'udp',
  host: string,
  port: number,
): Promise<string> {
  const script = protocol === 'tcp' ? TCP_CLIENT : UDP_CLIENT;
  const out = await sb
    .exec(ns, process.execPath, ['-e', script, host, String(port)])
    .catch((e: Error) => e.message);
  return out.trim();
}
