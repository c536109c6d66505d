import { labelKeyError, parseLabels } from '../labels.js';
import { parseIp } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import { ObjectReader } from './fields.js';
import {
  dnsLabelError,
  dnsSubdomainError,
  oneOf,
  portNameError,
  readCidr,
  readIp,
  readMetadata,
  readProtocol,
  specialIpError,
} from './parse-common.js';
import {
  IP_FAMILY_NAMES,
  IP_FAMILY_POLICIES,
  LB_ALGORITHM_ANNOTATION,
  LOAD_BALANCINGS,
  type LoadBalancing,
  SERVICE_TYPES,
  TRAFFIC_DISTRIBUTIONS,
  TRAFFIC_POLICIES,
  type ClusterIps,
  type IpFamilyName,
  type LoadBalancerIngress,
  type Service,
  type ServicePort,
  type ServiceType,
  type SessionAffinity,
  type TargetPort,
} from './service-types.js';
import type { Origin } from './types.js';

/**
 * A Service (v1), read strictly: every field of `spec` is known and checked
 * as the API server validates it (core/v1 ValidateService), and defaulted as
 * it defaults it (type ClusterIP, protocol TCP, targetPort = port,
 * sessionAffinity None with a 10800 s timeout for ClientIP, traffic
 * policies Cluster, allocateLoadBalancerNodePorts true). What the API
 * server would allocate is left unset.
 */

/** The default of sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
/** The largest timeoutSeconds the API accepts (one day). */
export const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

export function parseService(root: ObjectReader, origin?: Origin): Service {
  const meta = readMetadata(root, { namespaced: true, nameRule: 'dns1035' });
  const spec = root.object('spec') ?? new ObjectReader(root.ctx, 'spec', {});
  const type = oneOf(spec, 'type', SERVICE_TYPES) ?? 'ClusterIP';
  const clusterIps = readClusterIps(spec, type);
  const ports = readPorts(spec, type, clusterIps.kind === 'none');
  const selector = spec.has('selector') ? parseLabels(spec, 'selector') : undefined;
  const ipFamilies = readIpFamilies(spec, type, clusterIps);
  const ipFamilyPolicy = oneOf(spec, 'ipFamilyPolicy', IP_FAMILY_POLICIES);
  if (type === 'ExternalName' && ipFamilyPolicy !== undefined)
    forbidden(spec, 'ipFamilyPolicy', 'must not be set for ExternalName services');
  const twoFamilies =
    ipFamilies.length > 1 || (clusterIps.kind === 'set' && clusterIps.ips.length > 1);
  if (ipFamilyPolicy === 'SingleStack' && twoFamilies) {
    spec.ctx.invalid(
      spec.field('ipFamilyPolicy'),
      'is SingleStack, but two IP families are given',
      'use PreferDualStack or RequireDualStack, or give one family',
    );
  }
  const externalIps = readExternalIps(spec);
  const externalName = readExternalName(spec, type);
  const sessionAffinity = readSessionAffinity(spec);
  const external = readExternalTraffic(spec, type, externalIps.length > 0);
  const internalTrafficPolicy = oneOf(spec, 'internalTrafficPolicy', TRAFFIC_POLICIES) ?? 'Cluster';
  const lb = readLoadBalancerFields(spec, type);
  const publishNotReadyAddresses = spec.boolean('publishNotReadyAddresses') ?? false;
  const trafficDistribution = oneOf(spec, 'trafficDistribution', TRAFFIC_DISTRIBUTIONS);
  const loadBalancing = readLoadBalancing(root, meta.annotations);
  spec.done();
  const status = root.object('status');
  const loadBalancerIngress = status ? readStatus(status) : [];
  return {
    kind: 'Service',
    namespace: meta.namespace ?? 'default',
    name: meta.name,
    labels: meta.labels,
    type,
    ...(selector !== undefined && Object.keys(selector).length > 0 ? { selector } : {}),
    ports,
    clusterIps,
    ipFamilies,
    ...(ipFamilyPolicy !== undefined ? { ipFamilyPolicy } : {}),
    externalIps,
    ...(externalName !== undefined ? { externalName } : {}),
    sessionAffinity,
    externalTrafficPolicy: external.policy,
    internalTrafficPolicy,
    ...(external.healthCheckNodePort !== undefined
      ? { healthCheckNodePort: external.healthCheckNodePort }
      : {}),
    ...lb,
    publishNotReadyAddresses,
    ...(trafficDistribution !== undefined ? { trafficDistribution } : {}),
    ...(loadBalancing !== undefined ? { loadBalancing } : {}),
    loadBalancerIngress,
    ...(origin ? { origin } : {}),
  };
}

/** weft's own annotation choosing how the proxy balances the Service's connections. */
function readLoadBalancing(
  root: ObjectReader,
  annotations: Readonly<Record<string, string>> | undefined,
): LoadBalancing | undefined {
  const value = annotations?.[LB_ALGORITHM_ANNOTATION];
  if (value === undefined) return undefined;
  if ((LOAD_BALANCINGS as readonly string[]).includes(value)) return value as LoadBalancing;
  root.ctx.invalid(
    `metadata.annotations["${LB_ALGORITHM_ANNOTATION}"]`,
    `${JSON.stringify(value)} is not a load-balancing algorithm weft knows`,
    `write ${LOAD_BALANCINGS.join(' or ')}, or remove the annotation for the agent's default`,
  );
  return undefined;
}

function forbidden(r: ObjectReader, key: string, message: string): void {
  r.ctx.invalid(r.field(key), message, `remove ${key}`);
}

/** `clusterIP` and `clusterIPs`: empty, `None`, or one address per family (primary first). */
function readClusterIps(spec: ObjectReader, type: ServiceType): ClusterIps {
  const single = spec.string('clusterIP', { fix: 'write an IP address, or None' }) ?? '';
  const list = spec.list('clusterIPs') ?? [];
  const texts: string[] = [];
  for (const item of list) {
    if (typeof item.value === 'string') texts.push(item.value);
    else spec.ctx.invalid(item.path, 'must be an IP address string, or None');
  }
  if (type === 'ExternalName') {
    if (single !== '') forbidden(spec, 'clusterIP', 'must be empty for ExternalName services');
    if (texts.length > 0) forbidden(spec, 'clusterIPs', 'must be empty for ExternalName services');
    return { kind: 'unset' };
  }
  if (single !== '' && texts.length > 0 && texts[0] !== single) {
    spec.ctx.invalid(
      spec.field('clusterIPs'),
      `clusterIPs[0] ${JSON.stringify(texts[0])} must match clusterIP ${JSON.stringify(single)}`,
      'make clusterIP the first entry of clusterIPs, or write only one of them',
    );
    return { kind: 'unset' };
  }
  const all = texts.length > 0 ? texts : single !== '' ? [single] : [];
  const where = texts.length > 0 ? spec.field('clusterIPs') : spec.field('clusterIP');
  if (all.length === 0) return { kind: 'unset' };
  if (all.includes('None')) {
    if (all.length > 1) {
      spec.ctx.invalid(where, 'None must be the only entry', 'write clusterIPs: [None]');
      return { kind: 'unset' };
    }
    if (type === 'NodePort' || type === 'LoadBalancer') {
      spec.ctx.invalid(
        spec.field('clusterIP'),
        `may not be None for ${type} services`,
        'remove clusterIP: None, or use type ClusterIP for a headless Service',
      );
    }
    return { kind: 'none' };
  }
  if (all.length > 2) {
    spec.ctx.invalid(where, `at most two addresses (one per family), got ${all.length}`);
    return { kind: 'unset' };
  }
  const ips: IpAddr[] = [];
  all.forEach((text, i) => {
    const ip = parseIp(text);
    const path = texts.length > 0 ? `${where}[${i}]` : where;
    if (!ip) {
      spec.ctx.invalid(
        path,
        `${JSON.stringify(text)} must be empty, None, or a valid IP address`,
        'write an address such as 10.96.0.10, or drop it to have one assigned',
      );
    } else if (ips.some((x) => x.family === ip.family)) {
      spec.ctx.invalid(path, `a second IPv${ip.family} address`, 'give one address per family');
    } else ips.push(ip);
  });
  return ips.length === all.length ? { kind: 'set', ips } : { kind: 'unset' };
}

function readPorts(spec: ObjectReader, type: ServiceType, headless: boolean): ServicePort[] {
  const list = spec.list('ports') ?? [];
  if (list.length === 0 && !headless && type !== 'ExternalName') {
    spec.missing('ports', 'give the Service at least one port, e.g. ports: [{port: 80}]');
  }
  const ports: ServicePort[] = [];
  const names = new Map<string, string>();
  const seen = new Map<string, string>();
  const nodePorts = new Map<string, string>();
  for (const item of list) {
    const r = ObjectReader.at(spec.ctx, item.path, item.value);
    if (!r) continue;
    const port = readPort(r, type, list.length > 1);
    if (!port) continue;
    if (port.name !== '') {
      const first = names.get(port.name);
      if (first) r.ctx.invalid(r.field('name'), `duplicate name, also ${first}`, 'rename one');
      else names.set(port.name, item.path);
    }
    const key = `${port.port}/${port.protocol}`;
    const other = seen.get(key);
    if (other) r.ctx.invalid(item.path, `duplicate port ${key}, also ${other}`, 'remove one');
    else seen.set(key, item.path);
    if (port.nodePort !== undefined) {
      const nodeKey = `${port.nodePort}/${port.protocol}`;
      const taken = nodePorts.get(nodeKey);
      if (taken) {
        r.ctx.invalid(r.field('nodePort'), `duplicate node port ${nodeKey}, also ${taken}`);
      } else nodePorts.set(nodeKey, item.path);
    }
    ports.push(port);
  }
  return ports;
}

function readPort(r: ObjectReader, type: ServiceType, many: boolean): ServicePort | undefined {
  const name = r.string('name') ?? '';
  if (name === '' && many) {
    r.missing('name', 'every port of a Service with several ports needs a name');
  } else if (name !== '') {
    const why = dnsLabelError(name);
    if (why) r.ctx.invalid(r.field('name'), `${JSON.stringify(name)} ${why}`);
  }
  const protocol = readProtocol(r);
  const port = r.integer('port', {
    required: true,
    min: 1,
    max: 65535,
    fix: 'set port to the number the Service listens on (1..65535)',
  });
  const targetPort = readTargetPort(r);
  const nodePort = r.integer('nodePort', { min: 0, max: 65535 }) || undefined;
  if (nodePort !== undefined && type === 'ClusterIP') {
    forbidden(r, 'nodePort', "may not be used when type is 'ClusterIP'");
  }
  const appProtocol = r.string('appProtocol');
  r.done();
  if (port === undefined || protocol === undefined || targetPort === null) return undefined;
  return {
    name,
    protocol,
    port,
    targetPort: targetPort ?? { kind: 'number', port },
    ...(nodePort !== undefined ? { nodePort } : {}),
    ...(appProtocol !== undefined ? { appProtocol } : {}),
  };
}

/** `targetPort`: undefined when it defaults to `port` (absent, 0 or ""), null when invalid. */
function readTargetPort(r: ObjectReader): TargetPort | undefined | null {
  const v = r.raw('targetPort');
  if (v === undefined || v === 0 || v === '') return undefined;
  const path = r.field('targetPort');
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 1 && v <= 65535) return { kind: 'number', port: v };
    r.ctx.invalid(path, `must be a port number in 1..65535, got ${v}`);
    return null;
  }
  if (typeof v === 'string') {
    const why = portNameError(v);
    if (!why) return { kind: 'named', name: v };
    const fix = 'write a port number, or the name of a container port such as http';
    r.ctx.invalid(path, `port name ${JSON.stringify(v)} ${why}`, fix);
    return null;
  }
  r.ctx.invalid(path, 'must be a port number or a container port name');
  return null;
}

/** `ipFamilies`: at most two distinct families, matching the families of clusterIPs in order. */
function readIpFamilies(
  spec: ObjectReader,
  type: ServiceType,
  clusterIps: ClusterIps,
): IpFamilyName[] {
  const families: IpFamilyName[] = [];
  const list = spec.list('ipFamilies') ?? [];
  if (type === 'ExternalName' && list.length > 0) {
    forbidden(spec, 'ipFamilies', 'must be empty for ExternalName services');
    return [];
  }
  for (const item of list) {
    const f = item.value;
    if (typeof f !== 'string' || !(IP_FAMILY_NAMES as readonly string[]).includes(f)) {
      spec.ctx.invalid(item.path, `unsupported value ${JSON.stringify(f)}`, 'use IPv4 or IPv6');
    } else if (families.includes(f as IpFamilyName)) {
      spec.ctx.invalid(item.path, `duplicate family ${f}`, 'list each family once');
    } else families.push(f as IpFamilyName);
  }
  if (clusterIps.kind === 'set') {
    clusterIps.ips.forEach((ip, i) => {
      const f = families[i];
      if (f !== undefined && f !== `IPv${ip.family}`) {
        spec.ctx.invalid(
          spec.field(`ipFamilies[${i}]`),
          `is ${f}, but clusterIPs[${i}] is an IPv${ip.family} address`,
          'list the families in the order of clusterIPs',
        );
      }
    });
  }
  return families;
}

function readExternalIps(spec: ObjectReader): IpAddr[] {
  const out: IpAddr[] = [];
  for (const item of spec.list('externalIPs') ?? []) {
    const ip = readIp(spec.ctx, item.path, item.value);
    if (!ip) continue;
    const why = specialIpError(ip);
    if (why) spec.ctx.invalid(item.path, why, 'use an address that can be routed to a node');
    else out.push(ip);
  }
  return out;
}

/** `externalName`: required for ExternalName, a DNS name (a trailing dot is allowed). */
function readExternalName(spec: ObjectReader, type: ServiceType): string | undefined {
  const fix = 'write the DNS name the Service aliases, such as db.example.com';
  const name = spec.string('externalName', { fix }) || undefined;
  if (name === undefined) {
    if (type === 'ExternalName') spec.missing('externalName', fix);
    return undefined;
  }
  if (type !== 'ExternalName') return name;
  const why = dnsSubdomainError(name.endsWith('.') ? name.slice(0, -1) : name);
  if (why) spec.ctx.invalid(spec.field('externalName'), `${JSON.stringify(name)} ${why}`, fix);
  return name;
}

function readSessionAffinity(spec: ObjectReader): SessionAffinity {
  const kind = oneOf(spec, 'sessionAffinity', ['None', 'ClientIP'] as const) ?? 'None';
  const config = spec.object('sessionAffinityConfig');
  if (!config) {
    return kind === 'None' ? { kind } : { kind, timeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS };
  }
  const clientIp = config.object('clientIP');
  config.done();
  const timeout = clientIp?.integer('timeoutSeconds', {
    min: 1,
    max: MAX_AFFINITY_TIMEOUT_SECONDS,
    fix: `give a timeout in seconds, 1..${MAX_AFFINITY_TIMEOUT_SECONDS}`,
  });
  clientIp?.done();
  if (kind === 'None') {
    spec.ctx.invalid(
      spec.field('sessionAffinityConfig'),
      'must not be set when sessionAffinity is None',
      'remove sessionAffinityConfig, or set sessionAffinity: ClientIP',
    );
    return { kind };
  }
  return { kind, timeoutSeconds: timeout ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS };
}

/**
 * `externalTrafficPolicy` (only for a Service reachable from outside:
 * NodePort, LoadBalancer, or ClusterIP with externalIPs) and
 * `healthCheckNodePort` (only for a LoadBalancer whose policy is Local).
 */
function readExternalTraffic(
  spec: ObjectReader,
  type: ServiceType,
  hasExternalIps: boolean,
): { policy: 'Cluster' | 'Local'; healthCheckNodePort?: number } {
  const policy = oneOf(spec, 'externalTrafficPolicy', TRAFFIC_POLICIES);
  const reachable =
    type === 'NodePort' || type === 'LoadBalancer' || (type === 'ClusterIP' && hasExternalIps);
  if (policy !== undefined && !reachable) {
    forbidden(
      spec,
      'externalTrafficPolicy',
      'may only be set for externally reachable Services (NodePort, LoadBalancer, or externalIPs)',
    );
  }
  const port = spec.integer('healthCheckNodePort', { min: 0, max: 65535 }) || undefined;
  const needsHealthCheck = type === 'LoadBalancer' && policy === 'Local';
  if (port !== undefined && !needsHealthCheck) {
    forbidden(
      spec,
      'healthCheckNodePort',
      'may only be set for a LoadBalancer with externalTrafficPolicy Local',
    );
  }
  return {
    policy: reachable ? (policy ?? 'Cluster') : 'Cluster',
    ...(port !== undefined && needsHealthCheck ? { healthCheckNodePort: port } : {}),
  };
}

interface LoadBalancerFields {
  readonly loadBalancerSourceRanges: Cidr[];
  readonly allocateLoadBalancerNodePorts: boolean;
  readonly loadBalancerClass?: string;
  readonly loadBalancerIp?: string;
}

/** The fields only a LoadBalancer may set (loadBalancerIP is the cloud provider's business). */
function readLoadBalancerFields(spec: ObjectReader, type: ServiceType): LoadBalancerFields {
  const lb = type === 'LoadBalancer';
  const onlyLb = (key: string) =>
    forbidden(spec, key, "may only be used when type is 'LoadBalancer'");
  const ranges: Cidr[] = [];
  const list = spec.list('loadBalancerSourceRanges') ?? [];
  if (list.length > 0 && !lb) onlyLb('loadBalancerSourceRanges');
  for (const item of list) {
    const text = typeof item.value === 'string' ? item.value.trim() : item.value;
    const cidr = readCidr(spec.ctx, item.path, text);
    if (cidr) ranges.push(cidr);
  }
  const allocate = spec.boolean('allocateLoadBalancerNodePorts');
  if (allocate !== undefined && !lb) onlyLb('allocateLoadBalancerNodePorts');
  const loadBalancerClass = spec.string('loadBalancerClass');
  if (loadBalancerClass !== undefined) {
    if (!lb) onlyLb('loadBalancerClass');
    const why = labelKeyError(loadBalancerClass);
    if (why) {
      spec.ctx.invalid(
        spec.field('loadBalancerClass'),
        `${JSON.stringify(loadBalancerClass)}: ${why}`,
        'use a qualified name such as example.com/internal-vip',
      );
    }
  }
  const loadBalancerIp = spec.string('loadBalancerIP') || undefined;
  return {
    loadBalancerSourceRanges: ranges,
    allocateLoadBalancerNodePorts: lb ? (allocate ?? true) : true,
    ...(loadBalancerClass !== undefined ? { loadBalancerClass } : {}),
    ...(loadBalancerIp !== undefined ? { loadBalancerIp } : {}),
  };
}

/** `status.loadBalancer.ingress` (status.conditions are not read). */
function readStatus(status: ObjectReader): LoadBalancerIngress[] {
  status.list('conditions');
  const lb = status.object('loadBalancer');
  const out: LoadBalancerIngress[] = [];
  for (const item of lb?.list('ingress') ?? []) {
    const r = ObjectReader.at(status.ctx, item.path, item.value);
    if (!r) continue;
    const ingress = readIngress(r);
    r.done();
    if (ingress) out.push(ingress);
  }
  lb?.done();
  status.done();
  return out;
}

function readIngress(r: ObjectReader): LoadBalancerIngress | undefined {
  const rawIp = r.raw('ip');
  const ip = rawIp === undefined || rawIp === '' ? undefined : readIp(r.ctx, r.field('ip'), rawIp);
  const hostname = r.string('hostname') || undefined;
  if (hostname !== undefined) {
    const why = parseIp(hostname)
      ? 'must be a DNS name, not an IP address'
      : dnsSubdomainError(hostname);
    if (why) r.ctx.invalid(r.field('hostname'), `${JSON.stringify(hostname)} ${why}`);
  }
  const ipMode = oneOf(r, 'ipMode', ['VIP', 'Proxy'] as const);
  if (ipMode !== undefined && (rawIp === undefined || rawIp === '')) {
    r.ctx.invalid(r.field('ipMode'), 'may not be set when ip is not', 'set ip, or remove ipMode');
  }
  for (const p of r.list('ports') ?? []) {
    const pr = ObjectReader.at(r.ctx, p.path, p.value);
    if (!pr) continue;
    pr.integer('port', { required: true, min: 1, max: 65535 });
    oneOf(pr, 'protocol', ['TCP', 'UDP', 'SCTP'] as const, { required: true });
    pr.string('error');
    pr.done();
  }
  if (ip === undefined) return hostname !== undefined ? { hostname } : undefined;
  return { ip, ipMode: ipMode ?? 'VIP', ...(hostname !== undefined ? { hostname } : {}) };
}
