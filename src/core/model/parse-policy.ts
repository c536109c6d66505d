import { ErrorCodes } from '../errors.js';
import { Limits } from '../limits.js';
import { EVERYTHING } from '../labels.js';
import { cidrContainsCidr } from '../net/cidr.js';
import type { Cidr } from '../net/types.js';
import { ObjectReader } from './fields.js';
import {
  portNameError,
  readCidr,
  readMetadata,
  readProtocol,
  readSelector,
} from './parse-common.js';
import { DIRECTIONS } from './types.js';
import type {
  Direction,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyRule,
  Origin,
  PeersSpec,
  PortSpec,
  PortsSpec,
} from './types.js';

/**
 * NetworkPolicy (networking.k8s.io/v1), read strictly: every field must be
 * one the API defines, and the API server's defaulting and validation are
 * applied as its reference documents them.
 */
export function parseNetworkPolicy(root: ObjectReader, origin?: Origin): NetworkPolicy | undefined {
  const meta = readMetadata(root, { namespaced: true, nameRule: 'subdomain' });
  const spec = root.object('spec', {
    required: true,
    fix: 'add a spec with at least a podSelector',
  });
  if (!spec) return undefined;
  // Required: `{}` selects every pod of the namespace; absent is a mistake, not "all".
  const podSelector = readSelector(spec, 'podSelector');
  if (!spec.has('podSelector')) {
    spec.missing('podSelector', 'write podSelector: {} to select every pod of the namespace');
  }
  const ingress = readRules(spec, 'ingress', 'from');
  const egress = readRules(spec, 'egress', 'to');
  const rawEgress = spec.value['egress'];
  const policyTypes = readPolicyTypes(spec, Array.isArray(rawEgress) ? rawEgress.length : 0);
  spec.done();
  if (!podSelector || !policyTypes) return undefined;
  return {
    kind: 'NetworkPolicy',
    namespace: meta.namespace ?? 'default',
    name: meta.name,
    podSelector,
    policyTypes,
    ingress,
    egress,
    ...(origin ? { origin } : {}),
  };
}

const POLICY_TYPES: Record<string, Direction> = { Ingress: 'ingress', Egress: 'egress' };

/**
 * `policyTypes`, after the API server's defaulting (SetDefaults_NetworkPolicy
 * in pkg/apis/networking/v1/defaults.go): when the list is absent or empty,
 * it is [Ingress], plus Egress iff `len(spec.egress) != 0` — so an explicit
 * `egress: []` does NOT add Egress, as the API documents: "policies that
 * contain an egress section are assumed to affect egress ... if you want to
 * write a policy that specifies that no egress is allowed, you must specify a
 * policyTypes value that include Egress".
 */
function readPolicyTypes(spec: ObjectReader, egressRules: number): Direction[] | undefined {
  const list = spec.list('policyTypes');
  if (list === undefined || list.length === 0) {
    return egressRules > 0 ? ['ingress', 'egress'] : ['ingress'];
  }
  const out = new Set<Direction>();
  let ok = true;
  for (const item of list) {
    const d = typeof item.value === 'string' ? POLICY_TYPES[item.value] : undefined;
    if (d === undefined) {
      spec.ctx.invalid(
        item.path,
        `unsupported policy type ${JSON.stringify(item.value)}`,
        'use Ingress or Egress',
      );
      ok = false;
    } else if (out.has(d)) {
      spec.ctx.invalid(
        item.path,
        `duplicate policy type ${JSON.stringify(item.value)}`,
        'list each of Ingress, Egress at most once',
      );
      ok = false;
    } else {
      out.add(d);
    }
  }
  // Canonical order, whatever the order written.
  return ok ? DIRECTIONS.filter((x) => out.has(x)) : undefined;
}

function readRules(
  spec: ObjectReader,
  key: 'ingress' | 'egress',
  peersKey: 'from' | 'to',
): NetworkPolicyRule[] {
  const rules: NetworkPolicyRule[] = [];
  for (const item of spec.list(key) ?? []) {
    // `- ` (a null rule) decodes as an empty rule, as in the API.
    const r = ObjectReader.at(spec.ctx, item.path, item.value ?? {});
    if (!r) continue;
    const peers = readPeers(r, peersKey);
    const ports = readPorts(r);
    r.done();
    if (peers && ports) rules.push({ peers, ports });
  }
  return rules;
}

/** `from` / `to`: absent or empty matches every peer. */
function readPeers(
  rule: ObjectReader,
  key: 'from' | 'to',
): PeersSpec<NetworkPolicyPeer> | undefined {
  const list = rule.list(key);
  if (list === undefined || list.length === 0) return { kind: 'all' };
  const peers: NetworkPolicyPeer[] = [];
  let ok = true;
  for (const item of list) {
    const peer = readPeer(rule, item.path, item.value);
    if (peer) peers.push(peer);
    else ok = false;
  }
  return ok ? { kind: 'list', peers } : undefined;
}

function readPeer(rule: ObjectReader, path: string, value: unknown): NetworkPolicyPeer | undefined {
  const r = ObjectReader.at(rule.ctx, path, value);
  if (!r) return undefined;
  const before = r.ctx.issues.length;
  const pods = readSelector(r, 'podSelector');
  const namespaces = readSelector(r, 'namespaceSelector');
  const block = r.object('ipBlock');
  const ipBlock = block ? readIpBlock(block) : undefined;
  r.done();
  const hasSelector = r.has('podSelector') || r.has('namespaceSelector');
  if (r.has('ipBlock') && hasSelector) {
    r.ctx.invalid(
      path,
      'may not set both ipBlock and a podSelector or namespaceSelector',
      'split them into two peers (peers in a list are ORed)',
    );
    return undefined;
  }
  if (!r.has('ipBlock') && !hasSelector) {
    r.ctx.report(
      ErrorCodes.MISSING_FIELD,
      path,
      'a peer must set podSelector, namespaceSelector or ipBlock',
      'set one of them, or drop the peer',
    );
    return undefined;
  }
  if (r.ctx.issues.length > before) return undefined;
  if (ipBlock) return { kind: 'ipBlock', ...ipBlock };
  return {
    kind: 'pods',
    namespaces: namespaces ? { kind: 'selector', selector: namespaces } : { kind: 'own' },
    // Only a namespaceSelector: every pod of the selected namespaces.
    pods: pods ?? EVERYTHING,
  };
}

/** `cidr` required; each `except` a strict subset of `cidr` (same family, longer prefix, inside). */
function readIpBlock(r: ObjectReader): { cidr: Cidr; except: Cidr[] } | undefined {
  const rawCidr = r.raw('cidr');
  const cidr =
    rawCidr === undefined || rawCidr === '' ? undefined : readCidr(r.ctx, r.field('cidr'), rawCidr);
  if (rawCidr === undefined || rawCidr === '') r.missing('cidr', 'set cidr, e.g. 10.0.0.0/8');
  const except: Cidr[] = [];
  for (const item of r.list('except') ?? []) {
    const e = readCidr(r.ctx, item.path, item.value);
    if (!e || !cidr) continue;
    const inside = e.prefix > cidr.prefix && cidrContainsCidr(cidr, e);
    if (!inside) {
      r.ctx.invalid(
        item.path,
        `${JSON.stringify(item.value)} must be a strict subset of cidr ${JSON.stringify(rawCidr)}`,
        'list only ranges inside cidr (and smaller than it)',
      );
      continue;
    }
    except.push(e);
  }
  r.done();
  return cidr ? { cidr, except } : undefined;
}

/** `ports`: absent or empty matches every port and protocol. */
function readPorts(rule: ObjectReader): PortsSpec | undefined {
  const list = rule.list('ports');
  if (list === undefined || list.length === 0) return { kind: 'all' };
  if (list.length > Limits.portsPerRule) {
    rule.ctx.report(
      ErrorCodes.LIMIT,
      rule.field('ports'),
      `has ${list.length} entries; weft reads at most ${Limits.portsPerRule} per rule`,
      'give ranges as one entry with port and endPort, or split the rule',
    );
    return undefined;
  }
  const ports: PortSpec[] = [];
  let ok = true;
  for (const item of list) {
    const r = ObjectReader.at(rule.ctx, item.path, item.value ?? {});
    const port = r ? readPort(r) : undefined;
    if (port) ports.push(port);
    else ok = false;
  }
  return ok ? { kind: 'list', ports } : undefined;
}

function readPort(r: ObjectReader): PortSpec | undefined {
  const before = r.ctx.issues.length;
  const protocol = readProtocol(r);
  const port = r.raw('port');
  const endPort = r.integer('endPort', { min: 1, max: 65535 });
  r.done();
  if (port === undefined) {
    // A protocol alone matches every port of that protocol.
    if (r.has('endPort')) {
      r.ctx.invalid(
        r.field('endPort'),
        'may not be set without port',
        'set port to the first port of the range',
      );
    }
    return protocol && r.ctx.issues.length === before ? { kind: 'protocol', protocol } : undefined;
  }
  if (typeof port === 'string') {
    readNamedPort(r, port);
    return protocol && r.ctx.issues.length === before
      ? { kind: 'named', name: port, protocol }
      : undefined;
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    r.ctx.invalid(
      r.field('port'),
      `must be a port number 1..65535 or a port name, got ${JSON.stringify(port)}`,
    );
    return undefined;
  }
  if (endPort !== undefined && endPort < port) {
    r.ctx.invalid(
      r.field('endPort'),
      `must be greater than or equal to port (${port}), got ${endPort}`,
      'swap port and endPort, or drop endPort',
    );
  }
  if (!protocol || r.ctx.issues.length > before) return undefined;
  return { kind: 'range', protocol, from: port, to: endPort ?? port };
}

/** A named `port`: a valid IANA_SVC_NAME, and no `endPort`. */
function readNamedPort(r: ObjectReader, name: string): void {
  if (r.has('endPort')) {
    r.ctx.invalid(
      r.field('endPort'),
      'may not be set when port is a name',
      'use a numeric port, or drop endPort',
    );
  }
  const why = portNameError(name);
  if (why) {
    const numeric = /^[0-9]+$/.test(name);
    r.ctx.invalid(
      r.field('port'),
      `port name ${JSON.stringify(name)} ${why}`,
      numeric
        ? 'write the port number without quotes'
        : 'use the name of a container port, such as "http"',
    );
  }
}
