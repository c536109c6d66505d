/**
 * What a lab pod answers on its declared ports: the contract of agnhost
 * netexec (kubernetes test/images/agnhost), which the upstream e2e tests use,
 * on top of the echo `weft lab probe` relies on.
 *
 *   TCP  `GET /hostname` (or `/hostName`)  → 200, the pod's hostname
 *        `GET /clientip`                   → 200, the peer as it was seen: `ip:port`, `[ip]:port` for IPv6
 *        `GET` or `HEAD` of any other path → 404
 *        any other bytes                   → echoed
 *   UDP  a datagram `hostname` / `clientip` (case and surrounding white space ignored) → the same answers
 *        any other datagram                → echoed
 *
 * Bodies are plain text without a trailing newline, as agnhost writes them.
 * A connection is HTTP when its first bytes are `GET /` or `HEAD /`; it is
 * answered once, with `Connection: close`.
 */
import type { Socket } from 'node:net';

export const PORT_LIMITS = {
  /** TCP connections one port holds at once; more are closed as they arrive. */
  maxConnections: 1024,
  /** An HTTP request head (request line and headers) past this is answered 431 and closed. */
  maxHeadBytes: 8192,
  /** An HTTP request head not complete within this is closed, as weft's listeners do. */
  headTimeoutMs: 10_000,
  /** First bytes that could still begin `GET /` or `HEAD /` after this are echoed. */
  sniffMs: 1000,
  /** A connection idle this long is dropped, so abandoned clients cannot pile up. */
  idleMs: 60_000,
} as const;

const HTTP_STARTS = ['GET /', 'HEAD /'].map((s) => Buffer.from(s, 'latin1'));

/** Whether a connection's first bytes are an HTTP request, something to echo, or too few to tell. */
export function classify(first: Buffer): 'http' | 'echo' | 'undecided' {
  for (const start of HTTP_STARTS) {
    const n = Math.min(first.length, start.length);
    if (first.subarray(0, n).equals(start.subarray(0, n)))
      return first.length >= start.length ? 'http' : 'undecided';
  }
  return 'echo';
}

/** The peer as agnhost (Go's `RemoteAddr`) writes it: `10.0.0.1:5000`, `[fd00::1]:5000`. */
export function peerText(address: string, port: number): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (v4 !== undefined) return `${v4}:${port}`;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The answer to one UDP datagram. */
export function udpAnswer(
  msg: Buffer,
  from: { readonly address: string; readonly port: number },
  hostname: string,
): Buffer {
  // Commands are short; a long datagram is echoed without being looked at.
  if (msg.length > 64) return msg;
  const command = msg.toString('latin1').trim().toLowerCase();
  if (command === 'hostname') return Buffer.from(hostname);
  if (command === 'clientip') return Buffer.from(peerText(from.address, from.port));
  return msg;
}

/** Serves one accepted TCP connection: HTTP if it starts like a request, else echo. */
export function serveConnection(sock: Socket, hostname: string): void {
  sock.setNoDelay(true);
  sock.setTimeout(PORT_LIMITS.idleMs, () => sock.destroy());
  sock.on('error', () => sock.destroy());
  let first = Buffer.alloc(0);
  let sniff: NodeJS.Timeout | undefined;
  const decide = (kind: 'http' | 'echo') => {
    clearTimeout(sniff);
    sock.off('data', onData);
    if (kind === 'http') return serveHttp(sock, hostname, first);
    if (first.length > 0) sock.unshift(first);
    sock.pipe(sock);
  };
  const onData = (d: Buffer) => {
    first = Buffer.concat([first, d]);
    const kind = classify(first);
    if (kind !== 'undecided') decide(kind);
    else sniff ??= setTimeout(() => decide('echo'), PORT_LIMITS.sniffMs);
  };
  sock.on('data', onData);
  sock.on('close', () => clearTimeout(sniff));
}

/** Reads one request head (bounded in size and time), answers it, closes. */
function serveHttp(sock: Socket, hostname: string, first: Buffer): void {
  let head = first;
  const deadline = setTimeout(() => sock.destroy(), PORT_LIMITS.headTimeoutMs);
  const answer = (status: Status, body: string, withBody = true) => {
    clearTimeout(deadline);
    sock.off('data', onData);
    // Whatever the client still sends is read and dropped until it closes.
    sock.resume();
    sock.end(response(status, body, withBody));
  };
  const onData = (d?: Buffer) => {
    if (d) head = Buffer.concat([head, d]);
    const end = headEnd(head);
    if (end < 0 ? head.length > PORT_LIMITS.maxHeadBytes : end > PORT_LIMITS.maxHeadBytes)
      return answer(431, '431 Request Header Fields Too Large');
    if (end < 0) return;
    const line = /^(GET|HEAD) (\/\S*) HTTP\/1\.[01]\r?$/.exec(
      head.subarray(0, head.indexOf(0x0a)).toString('latin1'),
    );
    if (!line) return answer(400, '400 Bad Request');
    const path = (line[2] ?? '').split('?')[0];
    const withBody = line[1] === 'GET';
    if (path === '/hostname' || path === '/hostName') return answer(200, hostname, withBody);
    if (path === '/clientip')
      return answer(200, peerText(sock.remoteAddress ?? '', sock.remotePort ?? 0), withBody);
    answer(404, '404 page not found\n', withBody);
  };
  sock.on('data', onData);
  sock.on('close', () => clearTimeout(deadline));
  onData();
}

/** Where the head ends (after its blank line, CRLF or bare LF), or -1. */
function headEnd(b: Buffer): number {
  const crlf = b.indexOf('\r\n\r\n', 0, 'latin1');
  const lf = b.indexOf('\n\n', 0, 'latin1');
  if (crlf < 0) return lf < 0 ? -1 : lf + 2;
  return lf < 0 || crlf + 4 < lf + 2 ? crlf + 4 : lf + 2;
}

const REASONS = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  431: 'Request Header Fields Too Large',
} as const;
type Status = keyof typeof REASONS;

function response(status: Status, body: string, withBody: boolean): Buffer {
  const bytes = Buffer.from(body, 'utf8');
  const head = [
    `HTTP/1.1 ${status} ${REASONS[status]}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${bytes.length}`,
    `Date: ${new Date().toUTCString()}`,
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), withBody ? bytes : Buffer.alloc(0)]);
}
