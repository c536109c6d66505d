import assert from 'node:assert/strict';
import { buildCluster } from '../core/model/cluster.js';
import { parseObject } from '../core/model/parse.js';
import type { Cluster, ModelObject } from '../core/model/types.js';

/**
 * Clusters for the Service tests, written as Kubernetes manifests (plain
 * objects) and parsed by the real parsers, so every default is the API's.
 */

type Raw = Record<string, unknown>;

export function service(namespace: string, name: string, spec: Raw, extra: Raw = {}): Raw {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace, name }, spec, ...extra };
}

export interface PodSpec {
  readonly labels?: Record<string, string>;
  readonly node?: string;
  readonly ips?: readonly string[];
  /** Container ports as `name:port[/PROTOCOL]` or `port`. */
  readonly ports?: readonly string[];
  /** The Ready condition; absent: none reported. */
  readonly ready?: boolean;
  readonly terminating?: boolean;
  readonly phase?: string;
}

export function pod(namespace: string, name: string, o: PodSpec = {}): Raw {
  const ports = (o.ports ?? []).map((text) => {
    const m = /^(?:([a-z0-9-]+):)?(\d+)(?:\/(TCP|UDP|SCTP))?$/.exec(text);
    assert.ok(m, text);
    return {
      ...(m[1] ? { name: m[1] } : {}),
      containerPort: Number(m[2]),
      ...(m[3] ? { protocol: m[3] } : {}),
    };
  });
  const status: Raw = {
    ...(o.phase ? { phase: o.phase } : {}),
    ...(o.ips ? { podIPs: o.ips.map((ip) => ({ ip })) } : {}),
    ...(o.ready !== undefined
      ? { conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False' }] }
      : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace,
      name,
      labels: o.labels ?? {},
      ...(o.terminating ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { ...(o.node ? { nodeName: o.node } : {}), containers: [{ name: 'c', ports }] },
    status,
  };
}

export function node(name: string, addresses: readonly string[], zone?: string): Raw {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: zone ? { 'topology.kubernetes.io/zone': zone } : {} },
    status: { addresses: addresses.map((address) => ({ type: 'InternalIP', address })) },
  };
}

export interface EndpointSpec {
  readonly ip: string;
  readonly node?: string;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
  readonly zones?: readonly string[];
  readonly nodes?: readonly string[];
  readonly pod?: string;
}

export function endpointSlice(
  namespace: string,
  name: string,
  serviceName: string | undefined,
  ports: readonly Raw[],
  endpoints: readonly EndpointSpec[],
  extra: { addressType?: string; labels?: Record<string, string> } = {},
): Raw {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      namespace,
      name,
      labels: {
        ...(serviceName ? { 'kubernetes.io/service-name': serviceName } : {}),
        ...extra.labels,
      },
    },
    addressType: extra.addressType ?? 'IPv4',
    ports,
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready !== undefined ? { ready: e.ready } : {}),
        ...(e.serving !== undefined ? { serving: e.serving } : {}),
        ...(e.terminating !== undefined ? { terminating: e.terminating } : {}),
      },
      ...(e.node ? { nodeName: e.node } : {}),
      ...(e.zones || e.nodes
        ? {
            hints: {
              ...(e.zones ? { forZones: e.zones.map((z) => ({ name: z })) } : {}),
              ...(e.nodes ? { forNodes: e.nodes.map((n) => ({ name: n })) } : {}),
            },
          }
        : {}),
      ...(e.pod ? { targetRef: { kind: 'Pod', namespace, name: e.pod } } : {}),
    })),
  };
}

/** The Cluster of these manifests; any parse or build issue fails the test. */
export function clusterOf(...raws: readonly Raw[]): Cluster {
  const objects: ModelObject[] = raws.map((raw) => {
    const r = parseObject(raw);
    assert.deepEqual(r.issues, [], JSON.stringify(raw));
    assert.ok(r.object);
    return r.object;
  });
  const { cluster, issues } = buildCluster(objects);
  assert.deepEqual(issues, []);
  return cluster;
}
