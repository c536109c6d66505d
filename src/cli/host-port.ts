import { parseCidr } from '../core/net/cidr.js';
import type { Cidr } from '../core/net/types.js';
import { UsageError } from './output.js';

/**
 * `HOST:PORT` of a listen flag; an IPv6 host in brackets (`[::]:9963`).
 * Port 0 (pick a free one) only where `anyPort` allows it.
 */
export function parseHostPort(
  flag: string,
  text: string,
  example: string,
  anyPort = false,
): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535 || (port === 0 && !anyPort))
    throw new UsageError(`--${flag} ${text}: not HOST:PORT`, `e.g. --${flag} ${example}`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** `--allow-clients CIDR,...` (repeatable): ranges every TCP listener answers besides loopback and the Nodes. */
export function parseAllowClients(values: readonly string[] | undefined): Cidr[] {
  const out: Cidr[] = [];
  for (const text of (values ?? []).flatMap((v) => v.split(','))) {
    const c = parseCidr(text.trim());
    if (!c || c.hadHostBits)
      throw new UsageError(
        `--allow-clients ${text}: not a CIDR`,
        'write ranges as ADDRESS/PREFIX, comma-separated, e.g. --allow-clients 10.8.0.0/16,fd00::/64',
      );
    out.push(c.cidr);
  }
  return out;
}

/** `--ui-host NAME` (repeatable): a Host name the web UI answers besides its own. */
export function parseUiHosts(flag: string, values: readonly string[] | undefined): string[] {
  return (values ?? []).map((v) => {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+|[0-9a-fA-F:.]+)$/.test(v))
      throw new UsageError(
        `${flag} ${v}: not a host name`,
        `give the name the browser uses, without port or scheme, e.g. ${flag} weft.example.com`,
      );
    return v.replace(/^\[|\]$/g, '');
  });
}
