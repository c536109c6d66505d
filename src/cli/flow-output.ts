import type {
  DecidedBy,
  Flow,
  FlowAddress,
  FlowEndpoint,
  FlowService,
} from '../core/flows/types.js';
import { assertNever } from '../core/labels.js';
import { policyRefText, ruleOriginText, type PolicyRef } from '../core/policy/ir.js';

/**
 * One readable line a flow, as `weft observe` prints it:
 *
 *   12:00:01.234 node-1 ingress DROPPED shop/api:41000 -> shop/db:5432 TCP SYN
 *     isolated by NetworkPolicy shop/default-deny, no rule allowed
 *
 * and for a connection through a Service, after its endpoint:
 *
 *   … shop/web:41000 -> shop/api-1:8080 via Service shop/api:http (10.96.0.10:80) TCP …
 */

function pad2(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Local time of day with milliseconds; the date too when it is not today. */
export function flowTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const t = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${pad2(d.getMilliseconds(), 3)}`;
  const today = new Date(now).toDateString() === d.toDateString();
  return today ? t : `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${t}`;
}

export function endpointText(e: FlowEndpoint): string {
  const port = e.port !== undefined ? `:${e.port}` : '';
  switch (e.kind) {
    case 'pod':
      return `${e.namespace}/${e.pod}${port}`;
    case 'host':
      return `host ${e.node ?? ''}${e.node ? ' ' : ''}${e.ip}${port}`;
    case 'world':
      return `${e.ip}${port}`;
    default:
      return assertNever(e);
  }
}

/** `10.96.0.10:80`, `[fd00::10]:80`, or the address alone. */
function addressText(a: FlowAddress): string {
  if (a.port === undefined) return a.ip;
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

/** `shop/api:http (10.96.0.10:80)`; other frontends than a ClusterIP say their kind. */
export function serviceText(s: FlowService): string {
  const port = s.portName ? `:${s.portName}` : '';
  const kind = s.frontend.kind === 'ClusterIP' ? '' : `${s.frontend.kind} `;
  return `${s.namespace}/${s.name}${port} (${kind}${addressText(s.frontend)})`;
}

/** What NAT did on the way: ` via Service …`, ` translated from …`, ` masqueraded as …`. */
function translationText(f: Flow): string {
  const via = f.service
    ? ` via Service ${serviceText(f.service)}`
    : f.translatedFrom
      ? ` translated from ${addressText(f.translatedFrom)}`
      : '';
  const masq = f.masqueraded ? ` masqueraded as ${addressText(f.masqueraded)}` : '';
  return via + masq;
}

function refs(rs: readonly PolicyRef[]): string {
  return rs.map(policyRefText).join(', ');
}

export function decidedByText(d: DecidedBy): string {
  switch (d.kind) {
    case 'rule':
      return ruleOriginText(d.rule);
    case 'isolation':
      return `isolated by ${refs(d.isolatedBy)}, no rule allowed`;
    case 'default':
      return 'no policy applies';
    case 'unknown':
      return 'policy unknown';
    default:
      return assertNever(d);
  }
}

function details(f: Flow): string {
  const parts: string[] = [f.protocol];
  if (f.tcpFlags?.length) parts.push(f.tcpFlags.join(','));
  if (f.icmp) parts.push(`type ${f.icmp.type} code ${f.icmp.code}`);
  if (f.event === 'end') {
    const c = f.counters;
    parts.push(
      `${c.original.packets}/${c.reply.packets} packets ${c.original.bytes}/${c.reply.bytes} bytes`,
    );
  }
  return parts.join(' ');
}

const EVENT_WORD: Record<Flow['event'], string> = {
  start: 'FORWARDED',
  end: 'ENDED',
  drop: 'DROPPED',
};

export function flowLine(f: Flow, now = Date.now()): string {
  return [
    flowTime(f.time, now),
    f.node,
    f.direction.padEnd(7),
    EVENT_WORD[f.event].padEnd(9),
    `${endpointText(f.source)} -> ${endpointText(f.destination)}${translationText(f)}`,
    details(f),
    `(${decidedByText(f.decidedBy)})`,
  ].join(' ');
}
