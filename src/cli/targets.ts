import { parseIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import { PROTOCOLS, type Protocol } from '../core/model/types.js';
import { UsageError } from './output.js';

/** An address with, when written, a port and a protocol: `IP`, `IP:PORT`, `IP:PORT/PROTO`. */
export interface AddressTarget {
  readonly ip: IpAddr;
  readonly port?: number;
  readonly protocol?: Protocol;
}

const EXAMPLE = 'e.g. 10.96.0.10:53/UDP, or [fd00:10:96::a]:80/TCP for IPv6';

/**
 * `10.96.0.10`, `10.96.0.10:80`, `10.96.0.10:80/udp`, `fd00::a`,
 * `[fd00::a]:80/TCP`; undefined when `text` does not look like an address
 * at all (it may name a pod), a usage error when it does but is wrong.
 */
export function parseAddressTarget(text: string, flag: string): AddressTarget | undefined {
  const bare = parseIp(text);
  if (bare) return { ip: bare };
  const m = /^(?:\[([^\]]*)\]|([0-9.]+)):([^/]*)(?:\/(.*))?$/.exec(text);
  if (!m) {
    if (/^[0-9.]+\/[A-Za-z]+$/.test(text) || /^[0-9.]+$/.test(text))
      throw new UsageError(`${flag} ${text}: not IP:PORT/PROTO`, EXAMPLE);
    return undefined;
  }
  const host = m[1] ?? m[2] ?? '';
  const ip = parseIp(host);
  if (!ip) throw new UsageError(`${flag} ${text}: ${host} is not an IP address`, EXAMPLE);
  const portText = m[3] ?? '';
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535)
    throw new UsageError(
      `${flag} ${text}: port ${JSON.stringify(portText)} is not 1-65535`,
      EXAMPLE,
    );
  if (m[4] === undefined) return { ip, port };
  const protocol = m[4].toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(protocol))
    throw new UsageError(
      `${flag} ${text}: ${m[4]} is not a protocol Services carry`,
      `use TCP, UDP or SCTP, ${EXAMPLE}`,
    );
  return { ip, port, protocol: protocol as Protocol };
}
