import { READ_NODE_ANNOTATIONS, type NodeAnnotationKey } from './node-annotations.js';
import { ipEquals } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import { ObjectReader } from './fields.js';
import {
  dnsSubdomainError,
  oneOf,
  portNameError,
  readCidr,
  readIp,
  readMetadata,
  readProtocol,
} from './parse-common.js';
import {
  POD_PHASES,
  type ContainerPort,
  type Namespace,
  type Node,
  type Origin,
  type Pod,
} from './types.js';

/**
 * Namespace, Pod and Node are ordinary workload manifests carrying many
 * fields weft has no use for: only the fields weft reads are validated, the
 * rest of `spec` and `status` is accepted as is. `metadata` and the top level
 * are still strict.
 */

const NAME_LABEL = 'kubernetes.io/metadata.name';

export function parseNamespace(root: ObjectReader, origin?: Origin): Namespace {
  const meta = readMetadata(root, { namespaced: false, nameRule: 'label' });
  root.ignore('spec', 'status');
  // The API server always sets this label to the name, overriding any value written.
  const labels = { ...meta.labels, [NAME_LABEL]: meta.name };
  return {
    kind: 'Namespace',
    name: meta.name,
    labels,
    implicit: false,
    ...(origin ? { origin } : {}),
  };
}

export function parsePod(root: ObjectReader, origin?: Origin): Pod {
  const meta = readMetadata(root, { namespaced: true, nameRule: 'subdomain' });
  const spec = root.object('spec');
  let nodeName: string | undefined;
  let hostNetwork = false;
  let ports: ContainerPort[] = [];
  if (spec) {
    // An empty nodeName means "not scheduled yet", as in the API.
    nodeName = spec.string('nodeName') || undefined;
    if (nodeName !== undefined) {
      const why = dnsSubdomainError(nodeName);
      if (why) spec.ctx.invalid(spec.field('nodeName'), `${JSON.stringify(nodeName)} ${why}`);
    }
    hostNetwork = spec.boolean('hostNetwork') ?? false;
    ports = readContainerPorts(spec);
  }
  const status = root.object('status');
  const ips = status ? readPodIps(status) : [];
  const phase = status ? oneOf(status, 'phase', POD_PHASES) : undefined;
  const ready = status ? readReadyCondition(status) : undefined;
  return {
    kind: 'Pod',
    namespace: meta.namespace ?? 'default',
    name: meta.name,
    labels: meta.labels,
    ...(nodeName !== undefined ? { nodeName } : {}),
    hostNetwork,
    ports,
    ips,
    ...(meta.owner ? { owner: meta.owner } : {}),
    ...(phase !== undefined ? { phase } : {}),
    ...(ready !== undefined ? { ready } : {}),
    ...(meta.deletionTimestamp !== undefined ? { terminating: true as const } : {}),
    ...(origin ? { origin } : {}),
  };
}

const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/**
 * The `Ready` condition of `status.conditions`: true for "True", false for
 * "False" or "Unknown", undefined when there is none. Every condition needs a
 * type and a status (True, False or Unknown), and a type appears once; the
 * other fields of a condition (reason, message, times) are not read.
 */
function readReadyCondition(status: ObjectReader): boolean | undefined {
  let ready: boolean | undefined;
  const seen = new Set<string>();
  for (const item of status.list('conditions') ?? []) {
    const c = ObjectReader.at(status.ctx, item.path, item.value);
    if (!c) continue;
    const type = c.string('type', { required: true, fix: 'name the condition, e.g. type: Ready' });
    const value = oneOf(c, 'status', CONDITION_STATUSES, { required: true });
    if (type === undefined) continue;
    if (seen.has(type)) {
      c.ctx.invalid(c.field('type'), `a second ${JSON.stringify(type)} condition`, 'keep one');
      continue;
    }
    seen.add(type);
    if (type === 'Ready' && value !== undefined) ready = value === 'True';
  }
  return ready;
}

/** `spec.containers[].ports[]`, in order; port names must be unique in the pod. */
function readContainerPorts(spec: ObjectReader): ContainerPort[] {
  const out: ContainerPort[] = [];
  const names = new Map<string, string>();
  for (const c of spec.list('containers') ?? []) {
    const container = ObjectReader.at(spec.ctx, c.path, c.value);
    if (!container) continue;
    for (const p of container.list('ports') ?? []) {
      const port = readContainerPort(container, p.path, p.value);
      if (!port) continue;
      if (port.name !== undefined) {
        const first = names.get(port.name);
        if (first !== undefined) {
          spec.ctx.invalid(
            `${p.path}.name`,
            `duplicate port name ${JSON.stringify(port.name)}, already used by ${first}`,
            'give every container port of the pod a different name',
          );
          continue;
        }
        names.set(port.name, p.path);
      }
      out.push(port);
    }
  }
  return out;
}

function readContainerPort(
  container: ObjectReader,
  path: string,
  value: unknown,
): ContainerPort | undefined {
  const r = ObjectReader.at(container.ctx, path, value);
  if (!r) return undefined;
  const port = r.integer('containerPort', {
    required: true,
    min: 1,
    max: 65535,
    fix: 'set containerPort to the port number the container listens on (1..65535)',
  });
  const protocol = readProtocol(r);
  // An empty name is no name (omitempty in the API).
  const name = r.string('name') || undefined;
  if (name !== undefined) {
    const why = portNameError(name);
    if (why) {
      const fix = 'use a name like "http" or "metrics-1"';
      r.ctx.invalid(r.field('name'), `port name ${JSON.stringify(name)} ${why}`, fix);
    }
  }
  r.integer('hostPort', { min: 0, max: 65535 });
  r.string('hostIP');
  r.done();
  if (port === undefined || protocol === undefined) return undefined;
  return name ? { name, port, protocol } : { port, protocol };
}

/**
 * `status.podIPs[].ip` and `status.podIP`: valid addresses, at most one per
 * family, and podIP equal to podIPs[0] when both are given (as the API
 * server validates them).
 */
function readPodIps(status: ObjectReader): IpAddr[] {
  const podIPRaw = status.raw('podIP');
  const podIP =
    podIPRaw === undefined || podIPRaw === ''
      ? undefined
      : readIp(status.ctx, status.field('podIP'), podIPRaw);
  const list = status.list('podIPs');
  if (list === undefined) return podIP ? [podIP] : [];
  const ips: IpAddr[] = [];
  const families = new Set<number>();
  for (const item of list) {
    const r = ObjectReader.at(status.ctx, item.path, item.value);
    if (!r) continue;
    const raw = r.raw('ip');
    r.done();
    if (raw === undefined) {
      r.missing('ip');
      continue;
    }
    const ip = readIp(r.ctx, r.field('ip'), raw);
    if (!ip) continue;
    if (families.has(ip.family)) {
      r.ctx.invalid(
        r.field('ip'),
        `a second IPv${ip.family} address`,
        'give at most one address per IP family',
      );
      continue;
    }
    families.add(ip.family);
    ips.push(ip);
  }
  const first = ips[0];
  if (podIP && first && !ipEquals(podIP, first)) {
    status.ctx.invalid(
      status.field('podIP'),
      'must equal status.podIPs[0].ip',
      'make podIP the first entry of podIPs, or drop podIP',
    );
  }
  if (ips.length === 0 && podIP) return [podIP];
  return ips;
}

export function parseNode(root: ObjectReader, origin?: Origin): Node {
  const meta = readMetadata(root, { namespaced: false, nameRule: 'subdomain' });
  const spec = root.object('spec');
  const podCidrs = spec ? readPodCidrs(spec) : [];
  const status = root.object('status');
  const addresses: IpAddr[] = [];
  for (const item of status?.list('addresses') ?? []) {
    const r = ObjectReader.at(root.ctx, item.path, item.value);
    if (!r) continue;
    const type = r.string('type', { required: true });
    const address = r.raw('address');
    r.done();
    // Only addresses that carry traffic; Hostname, InternalDNS and ExternalDNS are names.
    if (type !== 'InternalIP' && type !== 'ExternalIP') continue;
    if (address === undefined) {
      r.missing('address');
      continue;
    }
    const ip = readIp(r.ctx, r.field('address'), address);
    if (ip && !addresses.some((a) => ipEquals(a, ip))) addresses.push(ip);
  }
  const annotations = readAnnotations(meta.annotations);
  return {
    kind: 'Node',
    name: meta.name,
    labels: meta.labels,
    addresses,
    podCidrs,
    ...(annotations ? { annotations } : {}),
    ...(origin ? { origin } : {}),
  };
}

/** Of a Node's annotations, those weft reads back (READ_NODE_ANNOTATIONS); undefined when none. */
function readAnnotations(all: Readonly<Record<string, string>> | undefined): Node['annotations'] {
  const out: Partial<Record<NodeAnnotationKey, string>> = {};
  for (const key of READ_NODE_ANNOTATIONS) {
    const value = all?.[key];
    if (value !== undefined) out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `spec.podCIDRs` (or `spec.podCIDR`): at most one per family; podCIDR must equal podCIDRs[0]. */
function readPodCidrs(spec: ObjectReader): Cidr[] {
  const single = spec.raw('podCIDR');
  const podCidr =
    single === undefined || single === ''
      ? undefined
      : readCidr(spec.ctx, spec.field('podCIDR'), single);
  const list = spec.list('podCIDRs');
  if (list === undefined) return podCidr ? [podCidr] : [];
  const cidrs: Cidr[] = [];
  for (const item of list) {
    const c = readCidr(spec.ctx, item.path, item.value);
    if (!c) continue;
    if (cidrs.some((x) => x.family === c.family)) {
      spec.ctx.invalid(
        item.path,
        `a second IPv${c.family} pod CIDR`,
        'give at most one pod CIDR per IP family',
      );
      continue;
    }
    cidrs.push(c);
  }
  const first = cidrs[0];
  if (podCidr && first && !sameCidr(podCidr, first)) {
    spec.ctx.invalid(
      spec.field('podCIDR'),
      'must equal spec.podCIDRs[0]',
      'make podCIDR the first entry of podCIDRs, or drop podCIDR',
    );
  }
  if (cidrs.length === 0 && podCidr) return [podCidr];
  return cidrs;
}

function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base === b.base && a.prefix === b.prefix;
}
