import { stat } from 'node:fs/promises';
import type { EndpointRecord } from '../api/types.js';
import { GATEWAY4, GATEWAY6 } from './endpoints.js';
import { findLink, ipJson } from '../host/netlink.js';

interface Route {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
}
interface AddrInfo {
  readonly addr_info?: readonly { readonly local: string; readonly prefixlen: number }[];
}

/**
 * CHECK: is the endpoint still as ADD left it? Returns what is wrong, in
 * words an operator can act on; empty when all is well.
 */
export async function checkEndpoint(
  r: EndpointRecord,
  expected: readonly string[] | undefined,
): Promise<string[]> {
  const problems: string[] = [];
  if (expected && [...expected].sort().join(',') !== [...r.addresses].sort().join(',')) {
    problems.push(
      `prevResult lists ${expected.join(', ')} but the agent gave ${r.addresses.join(', ')}`,
    );
  }
  const host = await findLink(r.hostIfname);
  if (!host) problems.push(`host interface ${r.hostIfname} is missing`);
  else {
    if (!host.flags?.includes('UP')) problems.push(`host interface ${r.hostIfname} is down`);
    const routes = [
      ...(await ipJson<Route[]>(['route', 'show', 'dev', r.hostIfname])),
      ...(await ipJson<Route[]>(['-6', 'route', 'show', 'dev', r.hostIfname])),
    ].map((x) => x.dst);
    for (const a of r.addresses) {
      const ip = a.split('/')[0] as string;
      if (!routes.includes(ip) && !routes.includes(a))
        problems.push(`the host has no route to ${ip} via ${r.hostIfname}`);
    }
  }
  try {
    await stat(r.netns);
  } catch {
    problems.push(`network namespace ${r.netns} is gone`);
    return problems;
  }
  const pod = await findLink(r.ifname, r.netns);
  if (!pod) {
    problems.push(`interface ${r.ifname} is missing in ${r.netns}`);
    return problems;
  }
  if (!pod.flags?.includes('UP')) problems.push(`interface ${r.ifname} in ${r.netns} is down`);
  const [info] = await ipJson<AddrInfo[]>(['addr', 'show', 'dev', r.ifname], r.netns);
  const have = new Set((info?.addr_info ?? []).map((x) => `${x.local}/${x.prefixlen}`));
  for (const a of r.addresses)
    if (!have.has(a)) problems.push(`${r.ifname} in ${r.netns} lacks address ${a}`);
  const defaults = [
    ...(await ipJson<Route[]>(['route', 'show', 'default'], r.netns)),
    ...(await ipJson<Route[]>(['-6', 'route', 'show', 'default'], r.netns)),
  ];
  const families = new Set(r.addresses.map((a) => (a.includes(':') ? 6 : 4)));
  for (const [family, gw] of [
    [4, GATEWAY4],
    [6, GATEWAY6],
  ] as const) {
    if (!families.has(family)) continue;
    if (!defaults.some((d) => d.gateway === gw && d.dev === r.ifname)) {
      problems.push(`${r.netns} has no IPv${family} default route via ${gw} dev ${r.ifname}`);
    }
  }
  return problems;
}
