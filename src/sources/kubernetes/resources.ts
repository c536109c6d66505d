import { isPlainObject } from '../../core/model/fields.js';
import { READ_NODE_ANNOTATIONS } from '../../core/model/node-annotations.js';

/**
 * The API resources weft watches, and for each the projection that keeps only
 * the fields weft reads. A projection runs on every object as it arrives,
 * before anything is stored; what it keeps is what the strict parsers of
 * src/core/model read. It never repairs a bad value: a field of the wrong
 * type is passed on as is, for the parser to name.
 */

export type WatchedKind =
  | 'Namespace'
  | 'Pod'
  | 'Node'
  | 'NetworkPolicy'
  | 'ClusterNetworkPolicy'
  | 'Service'
  | 'EndpointSlice';

export interface ResourceSpec {
  /** The plural resource name, as in RBAC and URLs: `pods`. */
  readonly name: string;
  readonly kind: WatchedKind;
  readonly apiVersion: string;
  /** The cluster-wide collection: `/api/v1/pods`. */
  readonly path: string;
  readonly namespaced: boolean;
  /** An API that may not be served (a CRD): 404 reads as "none", and is retried. */
  readonly optional: boolean;
  readonly project: (raw: Record<string, unknown>) => Record<string, unknown>;
}

type Raw = Record<string, unknown>;

function pick(o: Raw, keys: readonly string[]): Raw {
  const out: Raw = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** Each element of a list through `f` when it is an object; anything else as is, for the parser. */
function mapList(v: unknown, f: (o: Raw) => Raw | undefined): unknown {
  if (!Array.isArray(v)) return v;
  const out: unknown[] = [];
  for (const item of v) {
    const mapped = isPlainObject(item) ? f(item) : item;
    if (mapped !== undefined) out.push(mapped);
  }
  return out;
}

/** name, namespace, labels, resourceVersion and the controller ownerReference. */
export function projectMetadata(m: unknown): unknown {
  if (!isPlainObject(m)) return m;
  const out = pick(m, ['name', 'namespace', 'labels', 'resourceVersion']);
  const owners = mapList(m['ownerReferences'], (o) =>
    o['controller'] === true ? pick(o, ['kind', 'name', 'controller']) : undefined,
  );
  if (owners !== undefined && !(Array.isArray(owners) && owners.length === 0)) {
    out['ownerReferences'] = owners;
  }
  return out;
}

function typeMeta(raw: Raw): Raw {
  return {
    apiVersion: raw['apiVersion'],
    kind: raw['kind'],
    metadata: projectMetadata(raw['metadata']),
  };
}

/** Pods that ended keep their status.podIP, but the address is free and may be another pod's now. */
const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

export function projectPod(raw: Raw): Raw {
  const out = typeMeta(raw);
  // A pod being deleted: the EndpointSlice controller calls it terminating.
  const meta = raw['metadata'];
  if (
    isPlainObject(meta) &&
    meta['deletionTimestamp'] !== undefined &&
    isPlainObject(out['metadata'])
  )
    out['metadata'] = { ...out['metadata'], deletionTimestamp: meta['deletionTimestamp'] };
  const spec = raw['spec'];
  if (isPlainObject(spec)) {
    const s = pick(spec, ['nodeName', 'hostNetwork']);
    if (spec['containers'] !== undefined) {
      s['containers'] = mapList(spec['containers'], (c) => pick(c, ['ports']));
    }
    out['spec'] = s;
  } else if (spec !== undefined) out['spec'] = spec;
  const status = raw['status'];
  if (isPlainObject(status)) {
    if (!TERMINAL_PHASES.has(status['phase'] as string)) {
      const s = pick(status, ['phase', 'podIP']);
      if (status['podIPs'] !== undefined)
        s['podIPs'] = mapList(status['podIPs'], (p) => pick(p, ['ip']));
      // Of the conditions, only Ready (the parser reads no other).
      if (status['conditions'] !== undefined)
        s['conditions'] = mapList(status['conditions'], (c) =>
          c['type'] === 'Ready' ? pick(c, ['type', 'status']) : undefined,
        );
      out['status'] = s;
    }
  } else if (status !== undefined) out['status'] = status;
  return out;
}

export function projectNamespace(raw: Raw): Raw {
  return typeMeta(raw);
}

/** Addresses that carry traffic, as the Node parser reads them. */
const NODE_ADDRESS_TYPES = new Set(['InternalIP', 'ExternalIP']);

export function projectNode(raw: Raw): Raw {
  const out = typeMeta(raw);
  // Of the annotations, only those the Node parser reads.
  const meta = raw['metadata'];
  const annotations = isPlainObject(meta) ? meta['annotations'] : undefined;
  if (isPlainObject(out['metadata']) && isPlainObject(annotations)) {
    const kept = pick(annotations, READ_NODE_ANNOTATIONS);
    if (Object.keys(kept).length > 0) out['metadata'] = { ...out['metadata'], annotations: kept };
  }
  const spec = raw['spec'];
  if (spec !== undefined)
    out['spec'] = isPlainObject(spec) ? pick(spec, ['podCIDR', 'podCIDRs']) : spec;
  const status = raw['status'];
  if (isPlainObject(status)) {
    if (status['addresses'] !== undefined) {
      out['status'] = {
        addresses: mapList(status['addresses'], (a) =>
          NODE_ADDRESS_TYPES.has(a['type'] as string) ? pick(a, ['type', 'address']) : undefined,
        ),
      };
    }
  } else if (status !== undefined) out['status'] = status;
  return out;
}

/** A policy is read whole: every field of its spec matters (or is an error). */
export function projectPolicy(raw: Raw): Raw {
  const out = typeMeta(raw);
  if (raw['spec'] !== undefined) out['spec'] = raw['spec'];
  return out;
}

/** A Service: its whole spec (every field is checked) and, of its status, the load balancer. */
export function projectService(raw: Raw): Raw {
  const out = projectPolicy(raw);
  const status = raw['status'];
  if (isPlainObject(status)) {
    if (status['loadBalancer'] !== undefined) out['status'] = pick(status, ['loadBalancer']);
  } else if (status !== undefined) out['status'] = status;
  return out;
}

/** The endpoint fields the EndpointSlice parser reads (deprecatedTopology is not). */
const ENDPOINT_FIELDS = ['addresses', 'conditions', 'nodeName', 'zone', 'hints', 'hostname'];

/** An EndpointSlice: its address type, ports and endpoints; a targetRef by kind, namespace and name. */
export function projectEndpointSlice(raw: Raw): Raw {
  const out = typeMeta(raw);
  for (const key of ['addressType', 'ports']) if (raw[key] !== undefined) out[key] = raw[key];
  if (raw['endpoints'] !== undefined) {
    out['endpoints'] = mapList(raw['endpoints'], (e) => {
      const kept = pick(e, ENDPOINT_FIELDS);
      const ref = e['targetRef'];
      if (ref !== undefined)
        kept['targetRef'] = isPlainObject(ref) ? pick(ref, ['kind', 'namespace', 'name']) : ref;
      return kept;
    });
  }
  return out;
}

export const RESOURCES: readonly ResourceSpec[] = [
  {
    name: 'namespaces',
    kind: 'Namespace',
    apiVersion: 'v1',
    path: '/api/v1/namespaces',
    namespaced: false,
    optional: false,
    project: projectNamespace,
  },
  {
    name: 'pods',
    kind: 'Pod',
    apiVersion: 'v1',
    path: '/api/v1/pods',
    namespaced: true,
    optional: false,
    project: projectPod,
  },
  {
    name: 'nodes',
    kind: 'Node',
    apiVersion: 'v1',
    path: '/api/v1/nodes',
    namespaced: false,
    optional: false,
    project: projectNode,
  },
  {
    name: 'networkpolicies',
    kind: 'NetworkPolicy',
    apiVersion: 'networking.k8s.io/v1',
    path: '/apis/networking.k8s.io/v1/networkpolicies',
    namespaced: true,
    optional: false,
    project: projectPolicy,
  },
  {
    name: 'clusternetworkpolicies',
    kind: 'ClusterNetworkPolicy',
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    path: '/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies',
    namespaced: false,
    optional: true,
    project: projectPolicy,
  },
  {
    name: 'services',
    kind: 'Service',
    apiVersion: 'v1',
    path: '/api/v1/services',
    namespaced: true,
    optional: false,
    project: projectService,
  },
  {
    name: 'endpointslices',
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    namespaced: true,
    optional: false,
    project: projectEndpointSlice,
  },
];
