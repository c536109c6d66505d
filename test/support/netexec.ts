/**
 * A client of the pod server's agnhost netexec contract, as a script for
 * `node -e SCRIPT HOST PORT` run inside a namespace: it asks HOST PORT for
 * /hostname and /clientip over HTTP, then `hostname` and `clientip` over UDP,
 * and prints one JSON line, NetexecAnswers. A question that fails is
 * answered `{error}` (the error code, or `timeout` after 1 s).
 */
export const NETEXEC_CLIENT = `
const http = require('node:http');
const dgram = require('node:dgram');
const [host, port] = process.argv.slice(1);
const get = (path) => new Promise((resolve) => {
  let localPort = 0;
  const req = http.get({ host, port: Number(port), path, agent: false, timeout: 1000 }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (d) => (body += d));
    res.on('end', () => resolve({ status: res.statusCode, body, localPort }));
  });
  req.on('socket', (s) => s.on('connect', () => (localPort = s.localPort)));
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
  req.on('error', (e) => resolve({ error: e.code ?? e.message }));
});
const udp = (text) => new Promise((resolve) => {
  const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const done = (answer) => { clearTimeout(timer); u.close(); resolve(answer); };
  const timer = setTimeout(() => done({ error: 'timeout' }), 1000);
  u.on('error', (e) => done({ error: e.code ?? e.message }));
  u.bind(0, () => {
    const localPort = u.address().port;
    u.on('message', (m) => done({ answer: String(m), localPort }));
    u.send(text, Number(port), host, (e) => e && done({ error: e.code ?? e.message }));
  });
});
(async () => {
  const out = { hostname: await get('/hostname'), clientip: await get('/clientip'),
    udpHostname: await udp('hostname'), udpClientip: await udp('clientip') };
  console.log(JSON.stringify(out));
})();
`;

export type HttpAnswer =
  | { readonly status: number; readonly body: string; readonly localPort: number }
  | { readonly error: string };
export type UdpAnswer =
  { readonly answer: string; readonly localPort: number } | { readonly error: string };

export interface NetexecAnswers {
  readonly hostname: HttpAnswer;
  readonly clientip: HttpAnswer;
  readonly udpHostname: UdpAnswer;
  readonly udpClientip: UdpAnswer;
}

/** The client's own port of an answer (the kernel gave it), -1 for an error. */
export function localPort(a: HttpAnswer | UdpAnswer): number {
  return 'localPort' in a ? a.localPort : -1;
}
