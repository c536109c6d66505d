import { formatCidr, parseCidr } from '../net/cidr.js';
import { formatIp, parseIp } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { Endpoint, IrPolicy, IrSet, PolicyIr, SetId } from './ir.js';

/**
 * The IR as JSON, so the agent can serve the exact IR it enforces and the
 * CLI can trace against it (`weft policy trace --lab`). Addresses travel as
 * text; everything else as is.
 */
export interface IrJson {
  readonly endpoints: readonly (Omit<Endpoint, 'ips' | 'nodeAddresses'> & {
    ips: string[];
    nodeAddresses: string[];
  })[];
  readonly policies: readonly IrPolicy[];
  readonly sets: readonly unknown[];
}

export function irToJson(ir: PolicyIr): IrJson {
  return {
    endpoints: [...ir.endpoints.values()].map((e) => ({
      ...e,
      ips: e.ips.map(formatIp),
      nodeAddresses: e.nodeAddresses.map(formatIp),
    })),
    policies: [...ir.policies.values()],
    // A set's parts only shape the dataplane; the trace reads `cidrs`.
    sets: [...ir.sets.values()].map((s) =>
      s.kind === 'addresses'
        ? { kind: s.kind, id: s.id, origin: s.origin, cidrs: s.cidrs.map(formatCidr) }
        : { ...s, entries: s.entries.map((x) => ({ ...x, ip: formatIp(x.ip) })) },
    ),
  };
}

function ip(text: string): IpAddr {
  const a = parseIp(text);
  if (!a) throw new Error(`IR JSON: bad address ${JSON.stringify(text)}`);
  return a;
}

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new Error(`IR JSON: bad CIDR ${JSON.stringify(text)}`);
  return c.cidr;
}

export function irFromJson(j: IrJson): PolicyIr {
  const sets = new Map<SetId, IrSet>();
  for (const raw of j.sets as Record<string, unknown>[]) {
    if (raw['kind'] === 'addresses') {
      const s = {
        ...(raw as unknown as IrSet),
        cidrs: (raw['cidrs'] as string[]).map(cidr),
      } as IrSet;
      sets.set(s.id, s);
    } else {
      const entries = (raw['entries'] as { ip: string; protocol: string; port: number }[]).map(
        (x) => ({ ...x, ip: ip(x.ip) }),
      );
      const s = { ...(raw as unknown as IrSet), entries } as IrSet;
      sets.set(s.id, s);
    }
  }
  return {
    endpoints: new Map(
      j.endpoints.map((e) => [
        e.key,
        { ...e, ips: e.ips.map(ip), nodeAddresses: e.nodeAddresses.map(ip) },
      ]),
    ),
    policies: new Map(j.policies.map((p) => [p.id, p])),
    sets,
  };
}
