/**
 * A packet's way through one host, hook after hook, as the kernel routes
 * it: from the network through prerouting, then input when (after any
 * DNAT) it is for one of the host's addresses, else forward and
 * postrouting; from a process of the host through output and postrouting,
 * then input when it is for the host itself. Each hook's walk starts from
 * the packet the one before left (NAT, marks); a drop ends the way.
 */
import type { NftHook, NftTable } from './model.js';
import { parseIp } from '../core/net/ip.js';
import type { SetMemory } from './set-memory.js';
import { trace, type NatRewrite, type Packet, type TraceResult } from './trace.js';

export interface PathResult {
  readonly verdict: 'accept' | 'drop';
  /** Each hook walked, in order, with its walk. */
  readonly hooks: readonly { readonly hook: NftHook; readonly result: TraceResult }[];
  /** Where an accepted packet went: to a process of this host, or out of it. */
  readonly delivered?: 'local' | 'out';
  /** The packet as it left the last hook. */
  readonly packet: Packet;
  /** Every NAT rewrite, in order. */
  readonly nat: readonly NatRewrite[];
  /** The reject that ended the way, when one did. */
  readonly rejected?: TraceResult['rejected'];
}

function isLocal(p: Packet): boolean {
  const d = parseIp(p.daddr);
  return (p.localAddresses ?? []).some((a) => {
    const ip = parseIp(a);
    return ip !== undefined && d !== undefined && ip.family === d.family && ip.value === d.value;
  });
}

export function tracePath(
  tables: NftTable | readonly NftTable[],
  packet: Packet,
  origin: 'network' | 'local',
  memory?: SetMemory,
): PathResult {
  const hooks: { hook: NftHook; result: TraceResult }[] = [];
  let p = packet;
  const walk = (hook: NftHook): TraceResult => {
    const result = trace(tables, hook, p, memory);
    hooks.push({ hook, result });
    p = result.packet;
    return result;
  };
  const done = (verdict: 'accept' | 'drop', delivered?: 'local' | 'out'): PathResult => {
    const last = hooks[hooks.length - 1]?.result;
    return {
      verdict,
      hooks,
      ...(delivered ? { delivered } : {}),
      packet: p,
      nat: hooks.flatMap((h) => h.result.nat),
      ...(last?.rejected ? { rejected: last.rejected } : {}),
    };
  };
  const order: NftHook[] =
    origin === 'local' ? ['output', 'postrouting'] : ['prerouting', 'forward', 'postrouting'];
  for (const hook of order) {
    // Routing after prerouting: a packet for this host goes up to input, not on.
    if (hook === 'forward' && isLocal(p))
      return walk('input').verdict === 'drop' ? done('drop') : done('accept', 'local');
    if (walk(hook).verdict === 'drop') return done('drop');
  }
  if (origin === 'local' && isLocal(p))
    return walk('input').verdict === 'drop' ? done('drop') : done('accept', 'local');
  return done('accept', 'out');
}
