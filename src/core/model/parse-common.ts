import { parseLabels, parseSelector, type LabelSelector, type Labels } from '../labels.js';
import { parseCidr } from '../net/cidr.js';
import { parseIp } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import { isPlainObject, type ObjectReader, type ParseContext } from './fields.js';
import { PROTOCOLS, type Protocol } from './types.js';

/**
 * Helpers shared by the per-kind parsers: metadata, names, ports, addresses.
 * Every helper reports into the reader's ParseContext and returns undefined
 * (or a harmless default) on a bad value, so parsing carries on and one run
 * reports every mistake of an object.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** undefined when `s` is a valid DNS-1123 subdomain (object names), else why not. */
export function dnsSubdomainError(s: string): string | undefined {
  if (s.length === 0) return 'must not be empty';
  if (s.length > 253) return `must be at most 253 characters, got ${s.length}`;
  if (!DNS1123_SUBDOMAIN.test(s)) {
    return 'must be a DNS-1123 subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/** undefined when `s` is a valid DNS-1123 label (namespace names), else why not. */
export function dnsLabelError(s: string): string | undefined {
  if (s.length === 0) return 'must not be empty';
  if (s.length > 63) return `must be at most 63 characters, got ${s.length}`;
  if (!DNS1123_LABEL.test(s)) {
    return 'must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit';
  }
  return undefined;
}

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** undefined when `s` is a valid DNS-1035 label (Service names), else why not. */
export function dns1035LabelError(s: string): string | undefined {
  if (s.length === 0) return 'must not be empty';
  if (s.length > 63) return `must be at most 63 characters, got ${s.length}`;
  if (!DNS1035_LABEL.test(s)) {
    return 'must be a DNS-1035 label: lowercase letters, digits and "-", starting with a letter and ending with a letter or digit';
  }
  return undefined;
}

/**
 * undefined when `s` is a valid IANA_SVC_NAME (a container port name, or a
 * named port in a NetworkPolicy), else why not — as apimachinery's
 * IsValidPortName: at most 15 characters, lowercase alphanumerics and '-',
 * at least one letter, no leading, trailing or doubled '-'.
 */
export function portNameError(s: string): string | undefined {
  const why: string[] = [];
  if (s.length > 15) why.push('must be at most 15 characters');
  if (!/^[-a-z0-9]+$/.test(s)) why.push('must contain only lowercase letters, digits and "-"');
  if (!/[a-zA-Z]/.test(s)) why.push('must contain at least one letter');
  if (s.includes('--')) why.push('must not contain "--"');
  if (s.startsWith('-') || s.endsWith('-')) why.push('must not begin or end with "-"');
  return why.length === 0 ? undefined : why.join('; ');
}

export type NameRule = 'subdomain' | 'label' | 'dns1035';

const NAME_RULES: Readonly<Record<NameRule, (s: string) => string | undefined>> = {
  subdomain: dnsSubdomainError,
  label: dnsLabelError,
  dns1035: dns1035LabelError,
};

export interface Metadata {
  readonly name: string;
  /** Set for namespaced kinds only ("default" when absent). */
  readonly namespace?: string;
  readonly labels: Labels;
  /** The ownerReference with `controller: true`, if any. */
  readonly owner?: { readonly kind: string; readonly name: string };
  readonly annotations?: Readonly<Record<string, string>>;
  /** `metadata.deletionTimestamp`, as written (an RFC 3339 time). */
  readonly deletionTimestamp?: string;
}

/** Server-populated or irrelevant metadata weft tolerates and does not read. */
const TOLERATED_METADATA = [
  'annotations',
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'deletionGracePeriodSeconds',
  'generation',
  'managedFields',
  'finalizers',
  'generateName',
  'selfLink',
];

/**
 * Reads `metadata` strictly: a valid name, the namespace (namespaced kinds
 * default to "default"; cluster-scoped kinds ignore it, as the API server
 * clears it), labels, the controller owner; server fields are tolerated,
 * anything else is an unknown field.
 */
export function readMetadata(
  root: ObjectReader,
  opts: { namespaced: boolean; nameRule: NameRule },
): Metadata {
  const m = root.object('metadata');
  if (!m) {
    if (!root.has('metadata')) root.missing('metadata.name', 'give the object a metadata.name');
    return { name: '', labels: {} };
  }
  const name = m.string('name', { required: true, fix: 'give the object a metadata.name' }) ?? '';
  if (m.has('name') && typeof m.value['name'] === 'string') {
    const why = NAME_RULES[opts.nameRule](name);
    if (why) m.ctx.invalid(m.field('name'), `${JSON.stringify(name)} ${why}`);
  }
  let namespace: string | undefined;
  const ns = m.string('namespace');
  if (opts.namespaced) {
    namespace = ns === undefined || ns === '' ? 'default' : ns;
    const why = dnsLabelError(namespace);
    if (why) m.ctx.invalid(m.field('namespace'), `${JSON.stringify(namespace)} ${why}`);
  }
  const labels = parseLabels(m, 'labels');
  const annotations = m.stringMap('annotations');
  const owner = readControllerOwner(m);
  const deletionTimestamp = readTimestamp(m, 'deletionTimestamp');
  m.ignore(...TOLERATED_METADATA);
  m.done();
  return {
    name,
    labels,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(owner ? { owner } : {}),
    ...(annotations ? { annotations } : {}),
    ...(deletionTimestamp !== undefined ? { deletionTimestamp } : {}),
  };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A time as the API writes it (RFC 3339, e.g. 2026-01-01T00:00:00Z), or undefined. */
function readTimestamp(r: ObjectReader, key: string): string | undefined {
  const fix = 'write an RFC 3339 time such as 2026-01-01T00:00:00Z';
  const v = r.string(key, { fix });
  if (v === undefined) return undefined;
  if (!RFC3339.test(v)) {
    r.ctx.invalid(r.field(key), `${JSON.stringify(v)} is not an RFC 3339 time`, fix);
    return undefined;
  }
  return v;
}

function readControllerOwner(m: ObjectReader): Metadata['owner'] {
  let owner: Metadata['owner'];
  for (const item of m.list('ownerReferences') ?? []) {
    if (!isPlainObject(item.value) || item.value['controller'] !== true) continue;
    const { kind, name } = item.value;
    if (typeof kind !== 'string' || typeof name !== 'string' || !kind || !name) {
      m.ctx.invalid(item.path, 'a controller ownerReference needs a kind and a name');
      continue;
    }
    if (owner) {
      m.ctx.invalid(item.path, 'only one ownerReference may have controller: true');
      continue;
    }
    owner = { kind, name };
  }
  return owner;
}

/** A label selector at `key`, or undefined when the key is absent (absent is not empty). */
export function readSelector(r: ObjectReader, key: string): LabelSelector | undefined {
  const v = r.raw(key);
  return v === undefined ? undefined : parseSelector(r.ctx, r.field(key), v);
}

/** `protocol` of a port: TCP, UDP or SCTP, TCP when absent. */
export function readProtocol(r: ObjectReader, key = 'protocol'): Protocol | undefined {
  const p = r.string(key);
  if (p === undefined) return r.has(key) ? undefined : 'TCP';
  if (!(PROTOCOLS as readonly string[]).includes(p)) {
    r.ctx.invalid(
      r.field(key),
      `unsupported protocol ${JSON.stringify(p)}`,
      `use one of ${PROTOCOLS.join(', ')} (upper case)`,
    );
    return undefined;
  }
  return p as Protocol;
}

/** One IP address string at `path`. */
export function readIp(ctx: ParseContext, path: string, value: unknown): IpAddr | undefined {
  if (typeof value !== 'string') {
    ctx.invalid(path, 'must be an IP address string');
    return undefined;
  }
  const ip = parseIp(value);
  if (!ip) {
    const fix = 'write an IPv4 or IPv6 address such as 10.0.0.5';
    ctx.invalid(path, `${JSON.stringify(value)} is not a valid IP address`, fix);
  }
  return ip;
}

/**
 * Why the API server refuses `ip` where a routable address is needed
 * (externalIPs, endpoint addresses), or undefined: not unspecified, loopback,
 * link-local or link-local multicast (apimachinery's ValidateNonSpecialIP).
 */
export function specialIpError(ip: IpAddr): string | undefined {
  const v = ip.value;
  if (v === 0n) return 'may not be unspecified (0.0.0.0, ::)';
  if (ip.family === 4) {
    if (v >> 24n === 127n) return 'may not be in the loopback range (127.0.0.0/8)';
    if (v >> 16n === 0xa9fen) return 'may not be in the link-local range (169.254.0.0/16)';
    if (v >> 8n === 0xe00000n) return 'may not be in the link-local multicast range (224.0.0.0/24)';
    return undefined;
  }
  if (v === 1n) return 'may not be the loopback address (::1)';
  if (v >> 118n === 0x3fan) return 'may not be in the link-local range (fe80::/10)';
  if (v >> 120n === 0xffn && ((v >> 112n) & 0x0fn) === 2n)
    return 'may not be in the link-local multicast range (ff02::/16)';
  return undefined;
}

/** One CIDR string at `path`; host bits are masked (the API accepts them). */
export function readCidr(ctx: ParseContext, path: string, value: unknown): Cidr | undefined {
  if (typeof value !== 'string') {
    ctx.invalid(path, 'must be a CIDR string such as 10.0.0.0/8');
    return undefined;
  }
  const parsed = parseCidr(value);
  if (!parsed) {
    ctx.invalid(
      path,
      `${JSON.stringify(value)} is not a valid CIDR`,
      'write an address and a prefix length, such as 10.0.0.0/8 or fd00::/64',
    );
    return undefined;
  }
  return parsed.cidr;
}

export function oneOf<T extends string>(
  r: ObjectReader,
  key: string,
  allowed: readonly T[],
  opts: { required?: boolean } = {},
): T | undefined {
  const fix = `use one of ${allowed.join(', ')}`;
  const v = r.string(key, { ...opts, fix });
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    r.ctx.invalid(r.field(key), `unsupported value ${JSON.stringify(v)}`, fix);
    return undefined;
  }
  return v as T;
}
