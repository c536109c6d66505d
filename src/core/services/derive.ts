import { ErrorCodes, type Issue } from '../errors.js';
import type { Labels } from '../labels.js';
import { byNamespaceName } from '../model/cluster.js';
import {
  CONTROLLER_NAME,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
  type AddressType,
  type Endpoint,
  type EndpointPort,
  type EndpointSlice,
  type Service,
} from '../model/service-types.js';
import { describeObject, type Cluster, type Node, type Pod } from '../model/types.js';
import type { IpAddr } from '../net/types.js';

/**
 * The EndpointSlices the EndpointSlice controller would write, for a
 * cluster where it does not run (manifests, the lab). From the API server,
 * use the controller's slices as they come: this is for the caller to pick.
 *
 * For every Service with a selector (not ExternalName), per address type of
 * its IP families: one endpoint per pod of its namespace that the selector
 * matches, that has not ended (phase Succeeded or Failed) and has an
 * address of that type; endpoints grouped by their port mapping (a named
 * targetPort is looked up in each pod's container ports, name and protocol;
 * a pod without it has no such port), at most 100 to a slice, an empty
 * slice when there is none. Conditions: serving = the pod is Ready,
 * terminating = it is being deleted, ready = serving and not terminating,
 * or always with publishNotReadyAddresses. nodeName and zone (the Node's
 * topology.kubernetes.io/zone label) as the controller sets them; with
 * trafficDistribution, ready endpoints get the hint for their own zone (and
 * node, for PreferSameNode).
 *
 * Offline, weft also plays the kubelet and the scheduler: a pod that
 * reports no Ready condition is taken as ready, and a pod placed on no node
 * (weft gave it an address) is an endpoint without a nodeName. A pod that
 * names a Node the cluster does not have is left out, as the controller
 * does (unless publishNotReadyAddresses), and said in a note.
 *
 * The controller's slices given in the input (managed-by
 * endpointslice-controller.k8s.io) are replaced; other slices are kept.
 */

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
/** The EndpointSlice controller's maxEndpointsPerSlice default. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

export interface Derived {
  readonly cluster: Cluster;
  /** Pods left out, and why. */
  readonly notes: readonly Issue[];
}

export function deriveEndpointSlices(cluster: Cluster): Derived {
  const notes: Issue[] = [];
  const derived = new Set(
    cluster.services.filter((s) => s.selector !== undefined && s.type !== 'ExternalName'),
  );
  const derivedKeys = new Set([...derived].map((s) => `${s.namespace}/${s.name}`));
  const replaced = (e: EndpointSlice) =>
    e.labels[MANAGED_BY_LABEL] === CONTROLLER_NAME &&
    derivedKeys.has(`${e.namespace}/${e.labels[SERVICE_NAME_LABEL] ?? ''}`);
  const kept = cluster.endpointSlices.filter((e) => !replaced(e));
  const names = new Set(kept.map((e) => `${e.namespace}/${e.name}`));
  const nodes = new Map(cluster.nodes.map((n) => [n.name, n]));
  const podsByNamespace = new Map<string, Pod[]>();
  for (const p of cluster.pods) {
    const list = podsByNamespace.get(p.namespace) ?? [];
    list.push(p);
    podsByNamespace.set(p.namespace, list);
  }
  const slices: EndpointSlice[] = [...kept];
  for (const s of derived) {
    const pods = selectPods(s, podsByNamespace.get(s.namespace) ?? [], nodes, notes);
    for (const type of addressTypes(s)) slices.push(...slicesOf(s, type, pods, nodes, names));
  }
  slices.sort(byNamespaceName);
  return { cluster: { ...cluster, endpointSlices: slices }, notes };
}

function matchesSelector(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function selectPods(
  s: Service,
  pods: readonly Pod[],
  nodes: ReadonlyMap<string, Node>,
  notes: Issue[],
): Pod[] {
  const selector = s.selector as Labels;
  return pods.filter((p) => {
    if (!matchesSelector(selector, p.labels)) return false;
    if (p.phase === 'Succeeded' || p.phase === 'Failed') return false;
    if (p.nodeName === undefined || nodes.has(p.nodeName) || s.publishNotReadyAddresses)
      return true;
    notes.push({
      code: ErrorCodes.NOT_FOUND,
      object: describeObject(p),
      field: 'spec.nodeName',
      message: `names Node ${p.nodeName}, which the cluster does not have: left out of the endpoints of ${describeObject({ kind: 'Service', namespace: s.namespace, name: s.name })}`,
      fix: 'add the Node, or correct spec.nodeName',
    });
    return false;
  });
}

/** The address types of a Service's slices: its IP families (both for a headless one without any). */
function addressTypes(s: Service): ('IPv4' | 'IPv6')[] {
  if (s.ipFamilies.length > 0) return [...s.ipFamilies];
  if (s.clusterIps.kind === 'set') return s.clusterIps.ips.map((ip) => `IPv${ip.family}` as const);
  return ['IPv4', 'IPv6'];
}

/** The endpoint ports of `pod` for `s`: a named targetPort the pod does not have is left out. */
function portsFor(s: Service, pod: Pod): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of s.ports) {
    const t = sp.targetPort;
    const number =
      t.kind === 'number'
        ? t.port
        : pod.ports.find((c) => c.name === t.name && c.protocol === sp.protocol)?.port;
    if (number === undefined) continue;
    out.push({
      name: sp.name,
      protocol: sp.protocol,
      port: number,
      ...(sp.appProtocol !== undefined ? { appProtocol: sp.appProtocol } : {}),
    });
  }
  return out;
}

function endpointOf(s: Service, pod: Pod, ip: IpAddr, node: Node | undefined): Endpoint<IpAddr> {
  const serving = pod.ready ?? true;
  const terminating = pod.terminating === true;
  const ready = s.publishNotReadyAddresses || (serving && !terminating);
  const zone = node?.labels[ZONE_LABEL] || undefined;
  const hinted = ready && s.trafficDistribution !== undefined;
  const forNode = s.trafficDistribution === 'PreferSameNode';
  return {
    addresses: [ip],
    conditions: { ready, serving, terminating },
    ...(pod.nodeName !== undefined ? { nodeName: pod.nodeName } : {}),
    ...(zone !== undefined ? { zone } : {}),
    zoneHints: hinted && zone !== undefined ? [zone] : [],
    nodeHints: hinted && forNode && pod.nodeName !== undefined ? [pod.nodeName] : [],
    target: { kind: 'Pod', namespace: pod.namespace, name: pod.name },
  };
}

function slicesOf(
  s: Service,
  type: 'IPv4' | 'IPv6',
  pods: readonly Pod[],
  nodes: ReadonlyMap<string, Node>,
  names: Set<string>,
): EndpointSlice[] {
  const family = type === 'IPv4' ? 4 : 6;
  const groups = new Map<string, { ports: EndpointPort[]; endpoints: Endpoint<IpAddr>[] }>();
  for (const pod of pods) {
    const ip = pod.ips.find((a) => a.family === family);
    if (!ip) continue;
    const ports = portsFor(s, pod);
    const key = JSON.stringify(ports);
    const group = groups.get(key) ?? { ports, endpoints: [] };
    group.endpoints.push(
      endpointOf(s, pod, ip, pod.nodeName ? nodes.get(pod.nodeName) : undefined),
    );
    groups.set(key, group);
  }
  if (groups.size === 0) groups.set('[]', { ports: [], endpoints: [] });
  const labels = sliceLabels(s);
  const out: EndpointSlice[] = [];
  const ordered = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [, group] of ordered) {
    for (let i = 0; i === 0 || i < group.endpoints.length; i += MAX_ENDPOINTS_PER_SLICE) {
      out.push({
        kind: 'EndpointSlice',
        namespace: s.namespace,
        name: freeName(s, type, names),
        labels,
        ports: group.ports,
        addressType: type,
        endpoints: group.endpoints.slice(i, i + MAX_ENDPOINTS_PER_SLICE),
      });
    }
  }
  return out;
}

/** `web-ipv4-0`, `web-ipv4-1`, ...: the first not taken in the namespace. */
function freeName(s: Service, type: AddressType, names: Set<string>): string {
  for (let n = 0; ; n++) {
    const name = `${s.name}-${type.toLowerCase()}-${n}`;
    if (names.has(`${s.namespace}/${name}`)) continue;
    names.add(`${s.namespace}/${name}`);
    return name;
  }
}

/** The Service's labels (but the reserved ones), its name, the controller's, headless when it is. */
function sliceLabels(s: Service): Labels {
  const reserved = new Set([SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL]);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.labels)) if (!reserved.has(k)) labels[k] = v;
  if (s.clusterIps.kind !== 'set') labels[HEADLESS_LABEL] = '';
  labels[SERVICE_NAME_LABEL] = s.name;
  labels[MANAGED_BY_LABEL] = CONTROLLER_NAME;
  return labels;
}
