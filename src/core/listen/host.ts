import { formatIp } from '../net/ip.js';
import { clientAddress } from './access.js';

/**
 * The Host-name check of the UI servers, against DNS rebinding: a page of
 * another site whose name is made to resolve to 127.0.0.1 (or a node's
 * address) sends its own name as Host, and is refused. A UI answers the
 * loopback names, the address it was reached at, its listen host and the
 * names its operator adds (`--ui-host NAME`). The port is not compared:
 * rebinding changes the name, and a port-forward changes the port.
 */

/** The host part of a Host header, lower-case, IPv6 without brackets; undefined when malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]/@\s]+)(?::\d{1,5})?$/i.exec(header.trim());
  if (!m) return undefined;
  return (m[1] as string).replace(/^\[|\]$/g, '').toLowerCase();
}

export const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** A name as the check compares it: IP literals in canonical form, names lower-case. */
function canonical(name: string): string {
  const ip = clientAddress(name);
  return ip ? formatIp(ip) : name.toLowerCase().replace(/\.$/, '');
}

const WILDCARDS = ['0.0.0.0', '::'];

export class HostNames {
  private readonly names: ReadonlySet<string>;

  constructor(
    /** The listen host and the names configured (`--ui-host`). */
    readonly given: readonly string[],
  ) {
    // A wildcard listen host is no name: the address reached stands for it.
    const named = given.filter((g) => !WILDCARDS.includes(canonical(g)));
    this.names = new Set([...LOOPBACK_NAMES, ...named].map(canonical));
  }

  /** Whether a request with this Host header, reaching the local address `local`, is answered. */
  allows(header: string | undefined, local: string | undefined): boolean {
    const name = hostName(header);
    if (name === undefined) return false;
    const c = canonical(name);
    if (this.names.has(c)) return true;
    const at = local !== undefined ? clientAddress(local) : undefined;
    return at !== undefined && formatIp(at) === c;
  }

  /** The answer to a refused Host: it names the Host, what is answered and the fix. */
  refusal(header: string | undefined, flag: string): string {
    const shown = this.given.filter((g) => !WILDCARDS.includes(canonical(g)));
    return (
      `Host ${JSON.stringify(header ?? '')} is not a name of this UI: it answers ` +
      `${[...LOOPBACK_NAMES, ...shown].join(', ')} and the address it is reached at ` +
      `(open it by one of those, or add the name with ${flag} NAME)`
    );
  }
}
