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
