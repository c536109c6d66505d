import { labelValueError, parseLabels } from '../labels.js';
import { parseIp } from '../net/ip.js';
import type { IpAddr } from '../net/types.js';
import { ObjectReader } from './fields.js';
import {
  dnsLabelError,
  dnsSubdomainError,
  oneOf,
  readMetadata,
  readProtocol,
  specialIpError,
} from './parse-common.js';
import {
  ADDRESS_TYPES,
  type AddressType,
  type Endpoint,
  type EndpointConditions,
  type EndpointPort,
  type EndpointSlice,
} from './service-types.js';
import type { Origin } from './types.js';

/**
 * An EndpointSlice (discovery.k8s.io/v1), read strictly and validated as the
 * API server validates it: an addressType, at most 1000 endpoints of 1 to 100
 * addresses of that type (routable ones: no loopback, link-local or
 * unspecified address), at most 8 zone and 8 node hints, ports with unique
 * DNS-1123 label names (protocol TCP when absent, as the API defaults it).
 */

export const MAX_ENDPOINTS = 1000;
export const MAX_ADDRESSES = 100;
export const MAX_HINTS = 8;
export const MAX_PORTS = 20000;

export function parseEndpointSlice(root: ObjectReader, origin?: Origin): EndpointSlice {
  const meta = readMetadata(root, { namespaced: true, nameRule: 'subdomain' });
  const addressType = oneOf(root, 'addressType', ADDRESS_TYPES, { required: true });
  const ports = readPorts(root);
  const list = root.list('endpoints') ?? [];
  if (list.length > MAX_ENDPOINTS) {
    root.ctx.invalid(
      root.field('endpoints'),
      `at most ${MAX_ENDPOINTS} endpoints, got ${list.length}`,
      'split them over several EndpointSlices',
    );
  }
  const base = {
    kind: 'EndpointSlice' as const,
    namespace: meta.namespace ?? 'default',
    name: meta.name,
    labels: meta.labels,
    ports,
    ...(origin ? { origin } : {}),
  };
  if (addressType === 'FQDN') {
    return { ...base, addressType, endpoints: readEndpoints(root, list, fqdnAddress) };
  }
  const type = addressType ?? 'IPv4';
  return { ...base, addressType: type, endpoints: readEndpoints(root, list, ipAddress(type)) };
}

type AddressReader<A> = (r: ObjectReader, path: string, value: unknown) => A | undefined;

function ipAddress(type: AddressType): AddressReader<IpAddr> {
  const family = type === 'IPv6' ? 6 : 4;
  return (r, path, value) => {
    const ip = typeof value === 'string' ? parseIp(value) : undefined;
    if (!ip || ip.family !== family) {
      r.ctx.invalid(
        path,
        `${JSON.stringify(value)} is not an IPv${family} address`,
        `write IPv${family} addresses in an EndpointSlice of addressType ${type}`,
      );
      return undefined;
    }
    const why = specialIpError(ip);
    if (why) r.ctx.invalid(path, why, 'use the address the endpoint is reached at');
    return why ? undefined : ip;
  };
}

/** A fully qualified domain name: a DNS subdomain of at least two labels (a trailing dot allowed). */
function fqdnAddress(r: ObjectReader, path: string, value: unknown): string | undefined {
  if (typeof value !== 'string') {
    r.ctx.invalid(path, 'must be a domain name string');
    return undefined;
  }
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  const why =
    dnsSubdomainError(name) ??
    (name.includes('.') ? undefined : 'must have at least two labels separated by dots');
  if (why)
    r.ctx.invalid(path, `${JSON.stringify(value)} ${why}`, 'write a name like db.example.com');
  return why ? undefined : value;
}

function readEndpoints<A>(
  root: ObjectReader,
  list: readonly { value: unknown; path: string }[],
  address: AddressReader<A>,
): Endpoint<A>[] {
  const out: Endpoint<A>[] = [];
  for (const item of list) {
    const r = ObjectReader.at(root.ctx, item.path, item.value);
    if (!r) continue;
    const endpoint = readEndpoint(r, address);
    r.done();
    if (endpoint) out.push(endpoint);
  }
  return out;
}

function readEndpoint<A>(r: ObjectReader, address: AddressReader<A>): Endpoint<A> | undefined {
  const raw = r.list('addresses', { required: true, fix: 'give the endpoint its address' });
  if (raw && raw.length === 0) r.missing('addresses', 'give the endpoint at least one address');
  if (raw && raw.length > MAX_ADDRESSES) {
    r.ctx.invalid(r.field('addresses'), `at most ${MAX_ADDRESSES} addresses, got ${raw.length}`);
  }
  const addresses = (raw ?? []).map((a) => address(r, a.path, a.value));
  const conditions = readConditions(r);
  const nodeName = readName(r, 'nodeName', dnsSubdomainError);
  const hostname = readName(r, 'hostname', dnsLabelError);
  const zone = r.string('zone');
  const hints = readHints(r);
  const target = readTarget(r);
  parseLabels(r, 'deprecatedTopology');
  const valid = addresses.filter((a): a is A => a !== undefined);
  if (raw === undefined || valid.length !== raw.length || raw.length === 0) return undefined;
  return {
    addresses: valid,
    conditions,
    ...(nodeName !== undefined ? { nodeName } : {}),
    ...(zone !== undefined ? { zone } : {}),
    zoneHints: hints.zones,
    nodeHints: hints.nodes,
    ...(target ? { target } : {}),
    ...(hostname !== undefined ? { hostname } : {}),
  };
}

function readName(
  r: ObjectReader,
  key: string,
  rule: (s: string) => string | undefined,
): string | undefined {
  const v = r.string(key);
  if (v === undefined) return undefined;
  const why = rule(v);
  if (why) r.ctx.invalid(r.field(key), `${JSON.stringify(v)} ${why}`);
  return why ? undefined : v;
}

function readConditions(r: ObjectReader): EndpointConditions {
  const c = r.object('conditions');
  if (!c) return {};
  const ready = c.boolean('ready');
  const serving = c.boolean('serving');
  const terminating = c.boolean('terminating');
  c.done();
  return {
    ...(ready !== undefined ? { ready } : {}),
    ...(serving !== undefined ? { serving } : {}),
    ...(terminating !== undefined ? { terminating } : {}),
  };
}

/** `hints.forZones` (zone names: label values) and `hints.forNodes` (node names): 8 each, unique. */
function readHints(r: ObjectReader): { zones: string[]; nodes: string[] } {
  const h = r.object('hints');
  if (!h) return { zones: [], nodes: [] };
  const zones = readHintList(h, 'forZones', labelValueError);
  const nodes = readHintList(h, 'forNodes', dnsSubdomainError);
  h.done();
  return { zones, nodes };
}

function readHintList(
  h: ObjectReader,
  key: string,
  rule: (s: string) => string | undefined,
): string[] {
  const list = h.list(key) ?? [];
  if (list.length > MAX_HINTS) {
    h.ctx.invalid(h.field(key), `at most ${MAX_HINTS} hints, got ${list.length}`);
  }
  const out: string[] = [];
  for (const item of list) {
    const e = ObjectReader.at(h.ctx, item.path, item.value);
    if (!e) continue;
    const name = e.string('name', { required: true });
    e.done();
    if (name === undefined) continue;
    const why = rule(name);
    if (why) e.ctx.invalid(e.field('name'), `${JSON.stringify(name)} ${why}`);
    else if (out.includes(name)) e.ctx.invalid(e.field('name'), `duplicate hint ${name}`);
    else out.push(name);
  }
  return out;
}

function readTarget(r: ObjectReader): Endpoint<unknown>['target'] {
  const t = r.object('targetRef');
  if (!t) return undefined;
  const kind = t.string('kind');
  const namespace = t.string('namespace');
  const name = t.string('name');
  t.string('uid');
  t.string('apiVersion');
  t.string('resourceVersion');
  t.string('fieldPath');
  t.done();
  return {
    ...(kind ? { kind } : {}),
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
  };
}

function readPorts(root: ObjectReader): EndpointPort[] {
  const list = root.list('ports') ?? [];
  if (list.length > MAX_PORTS) {
    root.ctx.invalid(root.field('ports'), `at most ${MAX_PORTS} ports, got ${list.length}`);
  }
  const out: EndpointPort[] = [];
  const names = new Map<string, string>();
  for (const item of list) {
    const r = ObjectReader.at(root.ctx, item.path, item.value);
    if (!r) continue;
    const name = r.string('name') ?? '';
    if (name !== '') {
      const why = dnsLabelError(name);
      if (why) r.ctx.invalid(r.field('name'), `${JSON.stringify(name)} ${why}`);
    }
    const first = names.get(name);
    if (first !== undefined) {
      r.ctx.invalid(r.field('name'), `duplicate port name ${JSON.stringify(name)}, also ${first}`);
    } else names.set(name, item.path);
    const protocol = readProtocol(r);
    const port = r.integer('port', { min: 1, max: 65535 });
    const appProtocol = r.string('appProtocol');
    r.done();
    if (protocol === undefined) continue;
    out.push({
      name,
      protocol,
      ...(port !== undefined ? { port } : {}),
      ...(appProtocol !== undefined ? { appProtocol } : {}),
    });
  }
  return out;
}
