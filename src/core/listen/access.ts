import { cidrContains, formatCidr } from '../net/cidr.js';
import { parseIp } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { Node } from '../model/types.js';

/**
 * The one access rule of every TCP listener of weft (the agent's --health,
 * --observe and --ui, and `weft ui`): a client is answered when its address
 * is loopback, an address of one of the cluster's Nodes, or inside one of
 * the ranges the operator added (`--allow-clients CIDR,...`). Everything
 * else, pods first, is refused before any route is looked at.
 */
export interface ClientRule {
  readonly nodes: readonly Node[];
  readonly allow: readonly Cidr[];
}

/** A socket's remote address as Node gives it (`::ffff:10.0.0.1` for IPv4 on a dual-stack socket). */
export function clientAddress(remote: string): IpAddr | undefined {
  return parseIp(remote.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, ''));
}

export function isLoopback(a: IpAddr): boolean {
  return a.family === 4 ? a.value >> 24n === 127n : a.value === 1n;
}

export function clientAllowed(remote: string, rule: ClientRule): boolean {
  const ip = clientAddress(remote);
  if (!ip) return false;
  if (isLoopback(ip)) return true;
  if (rule.allow.some((c) => cidrContains(c, ip))) return true;
  return rule.nodes.some((n) =>
    n.addresses.some((a) => a.family === ip.family && a.value === ip.value),
  );
}

/** Who the rule lets in, for a refusal's message. */
export function describeRule(rule: ClientRule): string {
  const all = ['loopback', "this cluster's Node addresses", ...rule.allow.map(formatCidr)];
  return `${all.slice(0, -1).join(', ')} and ${all[all.length - 1] as string}`;
}

/** The answer to a client the rule refuses: it names the address, the rule and the fix. */
export function refusalMessage(listener: string, remote: string, rule: ClientRule): string {
  return (
    `the ${listener} listener answers ${describeRule(rule)} only, and ${remote} is none of them ` +
    '(read it from a node, through kubectl port-forward, or add its range to the agent\u2019s ' +
    '--allow-clients CIDR,...)'
  );
}
