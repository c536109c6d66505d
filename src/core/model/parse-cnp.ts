import { ErrorCodes } from '../errors.js';
import { EVERYTHING, parseSelector, type LabelSelector } from '../labels.js';
import type { Cidr } from '../net/types.js';
import { ObjectReader } from './fields.js';
import { oneOf, readCidr, readMetadata } from './parse-common.js';
import type {
  ClusterNetworkPolicy,
  CnpAction,
  CnpPeer,
  CnpRule,
  CnpSubject,
  Direction,
  Origin,
  PortSpec,
  PortsSpec,
  Protocol,
  Tier,
} from './types.js';

/**
 * ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2), read strictly
 * with the CRD's validation: every field known, "exactly one field" unions
 * enforced, list sizes checked, and known fields weft cannot enforce yet
 * (domainNames) reported as unsupported rather than ignored.
 */

const TIERS: readonly Tier[] = ['Admin', 'Baseline'];
const ACTIONS: readonly CnpAction[] = ['Accept', 'Deny', 'Pass'];
const MAX_RULES = 25;
const MAX_ITEMS = 25;

export function parseClusterNetworkPolicy(
  root: ObjectReader,
  origin?: Origin,
): ClusterNetworkPolicy | undefined {
  const meta = readMetadata(root, { namespaced: false, nameRule: 'subdomain' });
  const spec = root.object('spec', {
    required: true,
    fix: 'add a spec with tier, priority and subject',
  });
  root.ignore('status');
  if (!spec) return undefined;
  const tier = oneOf(spec, 'tier', TIERS, { required: true });
  const priority = spec.integer('priority', {
    required: true,
    min: 0,
    max: 1000,
    fix: 'set priority between 0 and 1000 (lower is evaluated first)',
  });
  const subject = readSubject(spec);
  const ingress = readRules(spec, 'ingress');
  const egress = readRules(spec, 'egress');
  spec.done();
  if (tier === undefined || priority === undefined || !subject || !ingress || !egress) {
    return undefined;
  }
  return {
    kind: 'ClusterNetworkPolicy',
    name: meta.name,
    tier,
    priority,
    subject,
    ingress,
    egress,
    ...(origin ? { origin } : {}),
  };
}

/**
 * Counts the union members set in `r` (only those in `keys`); reports a
 * missing or an ambiguous union at `r.path`. Returns the one key set.
 */
function exactlyOne(r: ObjectReader, keys: readonly string[], what: string): string | undefined {
  const set = keys.filter((k) => r.has(k));
  if (set.length === 1) return set[0];
  const choices = keys.join(', ');
  // Only unknown fields (already reported by done()): the typo is the problem, not a missing field.
  const onlyUnknown = set.length === 0 && Object.keys(r.value).some((k) => !keys.includes(k));
  if (onlyUnknown) return undefined;
  if (set.length === 0) {
    r.ctx.report(
      ErrorCodes.MISSING_FIELD,
      r.path,
      `${what} must set exactly one of ${choices}`,
      `set one of ${choices}`,
    );
  } else {
    r.ctx.invalid(
      r.path,
      `${what} must set exactly one of ${choices}, got ${set.join(' and ')}`,
      'split it into one entry per field',
    );
  }
  return undefined;
}

function selector(
  r: ObjectReader,
  key: string,
  opts: { required?: boolean } = {},
): LabelSelector | undefined {
  const v = r.raw(key);
  if (v === undefined) {
    if (opts.required) r.missing(key, `write ${key}: {} to select everything`);
    return undefined;
  }
  return parseSelector(r.ctx, r.field(key), v);
}

function readSubject(spec: ObjectReader): CnpSubject | undefined {
  const s = spec.object('subject', {
    required: true,
    fix: 'set subject.namespaces or subject.pods',
  });
  if (!s) return undefined;
  const namespaces = selector(s, 'namespaces');
  const pods = s.object('pods');
  const nsPods = pods ? readNamespacedPods(pods) : undefined;
  s.done();
  const which = exactlyOne(s, ['namespaces', 'pods'], 'subject');
  if (which === 'namespaces' && namespaces) return { kind: 'namespaces', selector: namespaces };
  if (which === 'pods' && nsPods) return { kind: 'pods', ...nsPods };
  return undefined;
}

/** `{namespaceSelector?, podSelector}`: an absent namespaceSelector selects every namespace. */
function readNamespacedPods(
  r: ObjectReader,
): { namespaceSelector: LabelSelector; podSelector: LabelSelector } | undefined {
  const namespaceSelector = selector(r, 'namespaceSelector') ?? EVERYTHING;
  const podSelector = selector(r, 'podSelector', { required: true });
  r.done();
  return podSelector ? { namespaceSelector, podSelector } : undefined;
}

/** A list with a size check: `min`..`max` items. Undefined when absent or wrongly typed. */
function sizedList(
  r: ObjectReader,
  key: string,
  opts: { min: number; max: number; required?: boolean; fix?: string },
): { value: unknown; path: string }[] | undefined {
  const list = r.list(key, opts);
  if (!list) return undefined;
  if (list.length < opts.min) {
    r.ctx.invalid(
      r.field(key),
      `must have at least ${opts.min} item${opts.min > 1 ? 's' : ''}`,
      opts.fix ?? `add an entry or remove ${key}`,
    );
  } else if (list.length > opts.max) {
    r.ctx.invalid(
      r.field(key),
      `must have at most ${opts.max} items, got ${list.length}`,
      'split it across several rules or policies',
    );
  }
  return list;
}

function readRules(spec: ObjectReader, direction: Direction): CnpRule[] | undefined {
  const before = spec.ctx.issues.length;
  const list = sizedList(spec, direction, { min: 0, max: MAX_RULES });
  const rules: CnpRule[] = [];
  for (const item of list ?? []) {
    const r = ObjectReader.at(spec.ctx, item.path, item.value);
    const rule = r ? readRule(r, direction) : undefined;
    if (rule) rules.push(rule);
  }
  return spec.ctx.issues.length === before ? rules : undefined;
}

function readRule(r: ObjectReader, direction: Direction): CnpRule | undefined {
  const before = r.ctx.issues.length;
  // `name: ""` is the API's omitted name (omitempty).
  const name = r.string('name') || undefined;
  if (name !== undefined && name.length > 100) {
    r.ctx.invalid(
      r.field('name'),
      `must be at most 100 characters, got ${name.length}`,
      'shorten the rule name',
    );
  }
  const action = oneOf(r, 'action', ACTIONS, { required: true });
  const peersKey = direction === 'ingress' ? 'from' : 'to';
  const peerList = sizedList(r, peersKey, {
    min: 1,
    max: MAX_ITEMS,
    required: true,
    fix: `list at least one peer in ${peersKey}`,
  });
  const peers: CnpPeer[] = [];
  let selectorFree = false;
  for (const item of peerList ?? []) {
    const p = ObjectReader.at(r.ctx, item.path, item.value);
    if (!p) continue;
    if (p.has('networks') || p.has('nodes') || p.has('domainNames')) selectorFree = true;
    const peer = readPeer(p, direction);
    if (peer) peers.push(peer);
  }
  const ports = readProtocols(r, direction === 'egress' && selectorFree);
  r.done();
  if (r.ctx.issues.length > before || action === undefined || !ports) return undefined;
  return { ...(name !== undefined ? { name } : {}), action, peers, ports };
}

const INGRESS_PEERS = ['namespaces', 'pods'];
const EGRESS_PEERS = ['namespaces', 'pods', 'nodes', 'networks', 'domainNames'];

function readPeer(p: ObjectReader, direction: Direction): CnpPeer | undefined {
  const keys = direction === 'ingress' ? INGRESS_PEERS : EGRESS_PEERS;
  let peer: CnpPeer | undefined;
  const namespaces = selector(p, 'namespaces');
  if (namespaces) peer = { kind: 'namespaces', selector: namespaces };
  const pods = p.object('pods');
  const nsPods = pods ? readNamespacedPods(pods) : undefined;
  if (nsPods) peer = { kind: 'pods', ...nsPods };
  if (direction === 'egress') {
    const nodes = selector(p, 'nodes');
    if (nodes) peer = { kind: 'nodes', selector: nodes };
    const cidrs = readNetworks(p);
    if (cidrs) peer = { kind: 'networks', cidrs };
    readDomainNames(p);
  } else {
    for (const key of EGRESS_PEERS.filter((k) => !INGRESS_PEERS.includes(k) && k in p.value)) {
      p.raw(key);
      p.ctx.report(
        ErrorCodes.UNKNOWN_FIELD,
        p.field(key),
        `${key} peers are only valid in egress rules`,
        'select sources with namespaces or pods peers',
      );
    }
  }
  p.done();
  return exactlyOne(p, keys, 'a peer') ? peer : undefined;
}

function readNetworks(p: ObjectReader): Cidr[] | undefined {
  const list = sizedList(p, 'networks', {
    min: 1,
    max: MAX_ITEMS,
    fix: 'list at least one CIDR, e.g. 10.0.0.0/8',
  });
  if (!list) return undefined;
  const cidrs: Cidr[] = [];
  const seen = new Map<string, string>();
  for (const item of list) {
    const c = readCidr(p.ctx, item.path, item.value);
    if (!c) continue;
    // listType=set: the API rejects the same string twice (not overlapping blocks).
    const key = String(item.value);
    const first = seen.get(key);
    if (first !== undefined) {
      p.ctx.invalid(item.path, `duplicate network, same as ${first}`, 'remove the duplicate');
      continue;
    }
    seen.set(key, item.path);
    cidrs.push(c);
  }
  return cidrs;
}

function readDomainNames(p: ObjectReader): void {
  if (p.raw('domainNames') === undefined) return;
  p.ctx.report(
    ErrorCodes.UNSUPPORTED_FIELD,
    p.field('domainNames'),
    'domainNames peers are not supported yet: weft has no DNS proxy',
    'use a networks peer with the CIDRs the domain names resolve to',
  );
}

/** `protocols`: absent matches every port and protocol; present needs 1..25 entries. */
function readProtocols(r: ObjectReader, selectorFreeEgress: boolean): PortsSpec | undefined {
  const list = sizedList(r, 'protocols', {
    min: 1,
    max: MAX_ITEMS,
    fix: 'remove protocols to match every port, or list at least one',
  });
  if (!list) return r.has('protocols') ? undefined : { kind: 'all' };
  const ports: PortSpec[] = [];
  for (const item of list) {
    const p = ObjectReader.at(r.ctx, item.path, item.value);
    const port = p ? readProtocol(p, selectorFreeEgress) : undefined;
    if (port) ports.push(port);
  }
  return { kind: 'list', ports };
}

const PROTOCOL_KEYS: Record<string, Protocol> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };

function readProtocol(p: ObjectReader, selectorFreeEgress: boolean): PortSpec | undefined {
  let spec: PortSpec | undefined;
  for (const [key, protocol] of Object.entries(PROTOCOL_KEYS)) {
    const o = p.object(key);
    if (!o) continue;
    const dp = o.object('destinationPort', {
      required: true,
      fix: 'set destinationPort.number or destinationPort.range',
    });
    o.done();
    const range = dp ? readDestinationPort(dp) : undefined;
    if (range) spec = { kind: 'range', protocol, ...range };
  }
  const named = p.string('destinationNamedPort');
  if (named === '') {
    const fix = 'name a container port, such as "http"';
    p.ctx.invalid(p.field('destinationNamedPort'), 'must not be empty', fix);
  }
  if (named && selectorFreeEgress) {
    p.ctx.invalid(
      p.field('destinationNamedPort'),
      'cannot be used in a rule with networks, nodes or domainNames peers: they have no named ports',
      'use tcp/udp/sctp destinationPort numbers, or move those peers to another rule',
    );
  }
  if (named) spec = { kind: 'named', name: named, protocol: 'any' };
  p.done();
  return exactlyOne(p, ['tcp', 'udp', 'sctp', 'destinationNamedPort'], 'a protocols entry')
    ? spec
    : undefined;
}

function readDestinationPort(dp: ObjectReader): { from: number; to: number } | undefined {
  const number = dp.integer('number', { min: 1, max: 65535 });
  const range = dp.object('range');
  let bounds: { from: number; to: number } | undefined;
  if (range) {
    const start = range.integer('start', { required: true, min: 1, max: 65535 });
    const end = range.integer('end', { required: true, min: 1, max: 65535 });
    range.done();
    if (start !== undefined && end !== undefined) {
      const fix = 'use number for a single port, or make start < end';
      if (start < end) bounds = { from: start, to: end };
      else range.ctx.invalid(range.path, `start (${start}) must be less than end (${end})`, fix);
    }
  }
  dp.done();
  const which = exactlyOne(dp, ['number', 'range'], 'destinationPort');
  if (which === 'number' && number !== undefined) return { from: number, to: number };
  if (which === 'range') return bounds;
  return undefined;
}
