import { ErrorCodes, WeftError } from '../errors.js';
import { matches, type LabelSelector } from '../labels.js';
import { cidrContains, formatCidr, parseCidr } from '../net/cidr.js';
import { parseIp } from '../net/ip.js';
import type { Cidr } from '../net/types.js';
import type { PolicyRef } from '../policy/ir.js';
import { parseSelectorText } from '../selector-text.js';
import { closest } from '../text.js';
import { parseSince } from './time.js';
import {
  decidingPolicies,
  FLOW_EVENTS,
  VERDICTS,
  type Flow,
  type FlowEndpoint,
  type FlowProtocol,
} from './types.js';

/**
 * Flow filters modeled on `hubble observe`: each flag is `[--]name value`;
 * repeating a flag ORs its values, different flags AND. `from-*` look at the
 * source, `to-*` at the destination, the bare form at either side.
 *
 *   pod, from-pod, to-pod        [namespace/]pod-name-prefix (namespace: the
 *                                single --namespace given, else "default")
 *   namespace, from-/to-namespace  exact namespace of a pod endpoint
 *   label, from-/to-label        label selector (kubectl -l syntax) on pod labels
 *   ip, from-/to-ip              an address or a CIDR
 *   port, from-/to-port          a port number
 *   protocol                     tcp, udp, sctp, icmp (v4 and v6), icmpv4, icmpv6
 *   verdict                      forwarded, dropped
 *   event                        start, end, drop
 *   policy                       namespace/name (NetworkPolicy) or name
 *                                (ClusterNetworkPolicy) that decided
 *   service                      namespace/name of the Service the connection
 *                                went through
 *   node                         node name; `*` matches any run of characters
 *   since, until                 RFC 3339 time or a duration before now (5m, 1h30m)
 *   last                         only the last N flows that match
 */
export const FILTER_FLAGS = [
  'pod',
  'from-pod',
  'to-pod',
  'namespace',
  'from-namespace',
  'to-namespace',
  'label',
  'from-label',
  'to-label',
  'ip',
  'from-ip',
  'to-ip',
  'port',
  'from-port',
  'to-port',
  'protocol',
  'verdict',
  'event',
  'policy',
  'service',
  'node',
  'since',
  'until',
  'last',
] as const;
export type FilterFlag = (typeof FILTER_FLAGS)[number];

type Predicate = (f: Flow) => boolean;

export interface FlowQuery {
  /** The flags as given (flag without dashes, value), to forward to agents. */
  readonly flags: readonly (readonly [FilterFlag, string])[];
  /** Every predicate must hold (each is the OR of one flag's values). */
  readonly predicates: readonly Predicate[];
  /** Unix ms; flows before it are skipped. */
  readonly since?: number;
  /** Unix ms; flows after it are skipped. */
  readonly until?: number;
  /** Keep only the last N matching flows. */
  readonly last?: number;
  /**
   * The predicates (among `predicates`) that only the flows of every agent,
   * joined (service-join.ts), can answer: which Service a connection went
   * through is seen by the node that translated it alone.
   */
  readonly afterJoin: readonly Predicate[];
}

/** Flags whose answer needs the flows of every agent joined. */
const JOINED_FLAGS: readonly FilterFlag[] = ['service'];

/** Parses filter flags; `now` (Unix ms) anchors relative `since`/`until`. Throws WeftError (WEFT_USAGE). */
export function parseFlowQuery(
  flags: readonly (readonly [string, string])[],
  now: number,
): FlowQuery {
  const given: [FilterFlag, string][] = flags.map(([name, value]) => [checkFlag(name), value]);
  const namespaces = given.filter(([f]) => f === 'namespace').map(([, v]) => v);
  const defaultNamespace = namespaces.length === 1 ? (namespaces[0] as string) : 'default';
  const byFlag = new Map<FilterFlag, Predicate[]>();
  const afterJoin = new Set<FilterFlag>();
  let since: number | undefined;
  let until: number | undefined;
  let last: number | undefined;
  for (const [flag, value] of given) {
    if (value.trim() === '') throw usage(flag, value, 'needs a value', example(flag));
    if (flag === 'since' || flag === 'until') {
      const t = parseSince(value, now);
      if (typeof t === 'string') throw usage(flag, value, t, example(flag));
      if (flag === 'since') since = since === undefined ? t : Math.max(since, t);
      else until = until === undefined ? t : Math.min(until, t);
      continue;
    }
    if (flag === 'last') {
      if (!/^[1-9][0-9]{0,8}$/.test(value))
        throw usage(flag, value, 'must be a positive whole number', '--last 20');
      last = Number(value);
      continue;
    }
    const p = predicateOf(flag, value, defaultNamespace);
    byFlag.set(flag, [...(byFlag.get(flag) ?? []), p]);
    if (JOINED_FLAGS.includes(flag)) afterJoin.add(flag);
  }
  const anyOf = (ps: Predicate[]): Predicate =>
    ps.length === 1 ? (ps[0] as Predicate) : (f: Flow) => ps.some((p) => p(f));
  const perFlag = new Map([...byFlag].map(([flag, ps]) => [flag, anyOf(ps)] as const));
  const predicates = [...perFlag.values()];
  const joined = [...afterJoin].map((flag) => perFlag.get(flag) as Predicate);
  return { flags: given, predicates, since, until, last, afterJoin: joined };
}

/**
 * What each agent is asked when the flows of several are joined and then
 * filtered: the flags without those answered after the join and, when there
 * are such (what matches is only known then), without `last`.
 */
export function agentsQuery(q: FlowQuery): FlowQuery {
  if (q.afterJoin.length === 0) return q;
  const flags = q.flags.filter(([f]) => !JOINED_FLAGS.includes(f) && f !== 'last');
  const predicates = q.predicates.filter((p) => !q.afterJoin.includes(p));
  return { flags, predicates, since: q.since, until: q.until, afterJoin: [] };
}

/** Of flows joined across agents: those the joined filters keep, then the last N. */
export function applyAfterJoin<F extends Flow>(q: FlowQuery, flows: readonly F[]): F[] {
  const out = flows.filter((f) => q.afterJoin.every((p) => p(f)));
  return q.last !== undefined && out.length > q.last ? out.slice(out.length - q.last) : out;
}

export function matchesFlow(q: FlowQuery, f: Flow): boolean {
  if (q.since !== undefined && f.time < q.since) return false;
  if (q.until !== undefined && f.time > q.until) return false;
  return q.predicates.every((p) => p(f));
}

/** The flows that match, in their order, then the last N of them when asked. */
export function applyFlowQuery<F extends Flow>(q: FlowQuery, flows: readonly F[]): F[] {
  const out = flows.filter((f) => matchesFlow(q, f));
  return q.last !== undefined && out.length > q.last ? out.slice(out.length - q.last) : out;
}

function checkFlag(name: string): FilterFlag {
  const bare = name.replace(/^--?/, '');
  if ((FILTER_FLAGS as readonly string[]).includes(bare)) return bare as FilterFlag;
  const near = closest(bare, FILTER_FLAGS);
  throw WeftError.of({
    code: ErrorCodes.USAGE,
    object: `--${bare}`,
    field: '',
    message: 'unknown flow filter',
    fix: near
      ? `did you mean --${near}?`
      : `use one of ${FILTER_FLAGS.map((f) => `--${f}`).join(', ')}`,
  });
}

function usage(flag: FilterFlag, value: string, message: string, fix: string): WeftError {
  return WeftError.of({
    code: ErrorCodes.USAGE,
    object: `--${flag} ${JSON.stringify(value)}`,
    field: '',
    message,
    fix,
  });
}

function example(flag: FilterFlag): string {
  const examples: Record<FilterFlag, string> = {
    pod: '--pod prod/web (a name prefix; namespace optional)',
    'from-pod': '--from-pod prod/web',
    'to-pod': '--to-pod prod/db',
    namespace: '--namespace prod',
    'from-namespace': '--from-namespace prod',
    'to-namespace': '--to-namespace prod',
    label: "--label 'app=web,tier in (a,b)'",
    'from-label': "--from-label 'app=web'",
    'to-label': "--to-label 'app=db'",
    ip: '--ip 10.0.0.5 or --ip 10.0.0.0/24',
    'from-ip': '--from-ip 10.0.0.5',
    'to-ip': '--to-ip fd00::/64',
    port: '--port 443',
    'from-port': '--from-port 53',
    'to-port': '--to-port 8080',
    protocol: '--protocol tcp (or udp, sctp, icmp, icmpv4, icmpv6)',
    verdict: '--verdict dropped (or forwarded)',
    event: '--event drop (or start, end)',
    policy: '--policy prod/deny-all (NetworkPolicy) or --policy admin-deny (ClusterNetworkPolicy)',
    service: '--service prod/web',
    node: "--node worker-1 or --node 'worker-*'",
    since: '--since 5m or --since 2025-01-31T12:00:00Z',
    until: '--until 1m or --until 2025-01-31T12:05:00Z',
    last: '--last 20',
  };
  return `e.g. ${examples[flag]}`;
}

type Side = 'source' | 'destination' | 'either';

function sideOf(flag: FilterFlag): Side {
  if (flag.startsWith('from-')) return 'source';
  if (flag.startsWith('to-')) return 'destination';
  return 'either';
}

function onSide(side: Side, test: (e: FlowEndpoint) => boolean): Predicate {
  switch (side) {
    case 'source':
      return (f) => test(f.source);
    case 'destination':
      return (f) => test(f.destination);
    case 'either':
      return (f) => test(f.source) || test(f.destination);
  }
}

function predicateOf(flag: FilterFlag, value: string, defaultNamespace: string): Predicate {
  const side = sideOf(flag);
  switch (flag) {
    case 'pod':
    case 'from-pod':
    case 'to-pod':
      return onSide(side, podTest(flag, value, defaultNamespace));
    case 'namespace':
    case 'from-namespace':
    case 'to-namespace':
      if (/[\s/]/.test(value)) throw usage(flag, value, 'is not a namespace name', example(flag));
      return onSide(side, (e) => e.kind === 'pod' && e.namespace === value);
    case 'label':
    case 'from-label':
    case 'to-label':
      return onSide(side, labelTest(flag, value));
    case 'ip':
    case 'from-ip':
    case 'to-ip':
      return onSide(side, ipTest(flag, value));
    case 'port':
    case 'from-port':
    case 'to-port': {
      const port = parsePort(flag, value);
      return onSide(side, (e) => e.port === port);
    }
    case 'protocol': {
      const protos = protocolsOf(flag, value);
      return (f) => protos.includes(f.protocol);
    }
    case 'verdict':
      return enumTest(flag, value, VERDICTS, (f) => f.verdict);
    case 'event':
      return enumTest(flag, value, FLOW_EVENTS, (f) => f.event);
    case 'policy':
      return policyTest(flag, value);
    case 'service':
      return serviceTest(flag, value);
    case 'node': {
      const re = globRegExp(value);
      return (f) => re.test(f.node);
    }
    case 'since':
    case 'until':
    case 'last':
      throw new Error(`${flag} is not a predicate`);
  }
}

function podTest(flag: FilterFlag, value: string, defaultNamespace: string) {
  const parts = value.split('/');
  if (parts.length > 2 || parts.some((p) => p === '' || /\s/.test(p)))
    throw usage(flag, value, 'must be [namespace/]pod-name-prefix', example(flag));
  const [namespace, prefix] =
    parts.length === 2 ? (parts as [string, string]) : [defaultNamespace, parts[0] as string];
  return (e: FlowEndpoint) =>
    e.kind === 'pod' && e.namespace === namespace && e.pod.startsWith(prefix);
}

function labelTest(flag: FilterFlag, value: string) {
  const parsed = parseSelectorText(value);
  if ('error' in parsed) throw usage(flag, value, parsed.error, example(flag));
  const selector: LabelSelector = parsed.selector;
  return (e: FlowEndpoint) => e.kind === 'pod' && matches(selector, e.labels);
}

function ipTest(flag: FilterFlag, value: string) {
  let cidr: Cidr;
  if (value.includes('/')) {
    const c = parseCidr(value);
    if (!c) throw usage(flag, value, 'is not an IP address or CIDR', example(flag));
    if (c.hadHostBits) throw usage(flag, value, 'has host bits set', `use ${formatCidr(c.cidr)}`);
    cidr = c.cidr;
  } else {
    const a = parseIp(value);
    if (!a) throw usage(flag, value, 'is not an IP address or CIDR', example(flag));
    cidr = { family: a.family, base: a.value, prefix: a.family === 4 ? 32 : 128 };
  }
  return (e: FlowEndpoint) => {
    const a = parseIp(e.ip);
    return a !== undefined && cidrContains(cidr, a);
  };
}

function parsePort(flag: FilterFlag, value: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(value) || Number(value) > 65535)
    throw usage(flag, value, 'must be a port number 0-65535', example(flag));
  return Number(value);
}

const PROTOCOL_NAMES: Readonly<Record<string, readonly FlowProtocol[]>> = {
  tcp: ['TCP'],
  udp: ['UDP'],
  sctp: ['SCTP'],
  icmp: ['ICMP', 'ICMPv6'],
  icmpv4: ['ICMP'],
  icmpv6: ['ICMPv6'],
};

function protocolsOf(flag: FilterFlag, value: string): readonly FlowProtocol[] {
  const p = PROTOCOL_NAMES[value.toLowerCase()];
  if (!p) throw usage(flag, value, 'unknown protocol', example(flag));
  return p;
}

function enumTest<T extends string>(
  flag: FilterFlag,
  value: string,
  allowed: readonly T[],
  get: (f: Flow) => T,
): Predicate {
  const v = value.toLowerCase() as T;
  if (!allowed.includes(v))
    throw usage(flag, value, `must be one of ${allowed.join(', ')}`, example(flag));
  return (f) => get(f) === v;
}

function policyTest(flag: FilterFlag, value: string): Predicate {
  const parts = value.split('/');
  if (parts.length > 2 || parts.some((p) => p === '' || /\s/.test(p)))
    throw usage(
      flag,
      value,
      'must be namespace/name or a ClusterNetworkPolicy name',
      example(flag),
    );
  const want = (p: PolicyRef) =>
    parts.length === 2
      ? p.kind === 'NetworkPolicy' && p.namespace === parts[0] && p.name === parts[1]
      : p.kind === 'ClusterNetworkPolicy' && p.name === parts[0];
  return (f) => decidingPolicies(f.decidedBy).some(want);
}

function serviceTest(flag: FilterFlag, value: string): Predicate {
  const parts = value.split('/');
  if (parts.length !== 2 || parts.some((p) => p === '' || /\s/.test(p)))
    throw usage(flag, value, 'must be namespace/name', example(flag));
  const [namespace, name] = parts as [string, string];
  return (f) => f.service?.namespace === namespace && f.service.name === name;
}

function globRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}
