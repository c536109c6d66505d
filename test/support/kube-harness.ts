import type test from 'node:test';
import { buildCluster } from '../../src/core/model/cluster.js';
import { parseObject } from '../../src/core/model/parse.js';
import type { Cluster, ModelObject } from '../../src/core/model/types.js';
import type { KubeConfig } from '../../src/sources/kubernetes/config.js';
import {
  watchKubernetes,
  type KubernetesWatch,
  type KubernetesWatchOptions,
} from '../../src/sources/kubernetes/source.js';
import type { ReflectorStatus } from '../../src/sources/kubernetes/reflector.js';
import { FakeApiServer, type FakeApiServerOptions } from './fake-apiserver.js';
import { FAKE_RESOURCES } from './fake-store.js';

/**
 * The Kubernetes source against the fake API server, for tests: every
 * Cluster and error it hands on is kept, and what the source should converge
 * to is computed from the server's own objects, parsed whole by the core
 * parser (not through the source's projection).
 */

export const FAST: KubernetesWatchOptions = {
  debounceMs: 2,
  backoff: { initialMs: 20, maxMs: 200 },
  absentRetryMs: 100,
  requestTimeoutMs: 5000,
};

export interface Harness {
  readonly server: FakeApiServer;
  readonly watch: KubernetesWatch;
  readonly clusters: Cluster[];
  readonly errors: unknown[];
  latest(): Cluster;
  resource(name: string): ReflectorStatus;
}

export function httpConfig(server: FakeApiServer): KubeConfig {
  return { server: new URL(server.url), insecureSkipTlsVerify: false, origin: 'fake API server' };
}

export async function startServer(
  t: test.TestContext,
  o: FakeApiServerOptions = {},
): Promise<FakeApiServer> {
  const server = await FakeApiServer.start(o);
  t.after(() => server.close());
  return server;
}

export async function startSource(
  t: test.TestContext,
  server: FakeApiServer,
  opts: KubernetesWatchOptions = {},
  config: KubeConfig = httpConfig(server),
): Promise<Harness> {
  const clusters: Cluster[] = [];
  const errors: unknown[] = [];
  const watch = await watchKubernetes(
    config,
    (c) => clusters.push(c),
    (e) => errors.push(e),
    { ...FAST, ...opts },
  );
  t.after(() => watch.close());
  return {
    server,
    watch,
    clusters,
    errors,
    latest: () => clusters[clusters.length - 1] as Cluster,
    resource: (name) =>
      watch.status().resources.find((r) => r.resource === name) as ReflectorStatus,
  };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The server's objects of some resources, parsed whole; invalid ones left out. */
export function serverObjects(server: FakeApiServer, resources: readonly string[]): ModelObject[] {
  const out: ModelObject[] = [];
  for (const name of resources) {
    const def = FAKE_RESOURCES[name];
    if (!def) throw new Error(name);
    for (const o of server.store.objects(name)) {
      const parsed = parseObject({ ...o, apiVersion: def.apiVersion, kind: def.kind });
      if (parsed.object) out.push(parsed.object);
    }
  }
  return out;
}

/** The Cluster the server's objects make now. */
export function expectedCluster(
  server: FakeApiServer,
  served = Object.keys(FAKE_RESOURCES),
): Cluster {
  return buildCluster(serverObjects(server, served)).cluster;
}

/** A comparable text of one resource's part of a Cluster (bigint-safe). */
export function part(c: Cluster, resource: string): string {
  const pick = (): unknown => {
    switch (resource) {
      case 'namespaces':
        return [...c.namespaces.values()].filter((n) => !n.implicit);
      case 'pods':
        return c.pods;
      case 'nodes':
        return c.nodes;
      case 'networkpolicies':
        return c.networkPolicies;
      case 'clusternetworkpolicies':
        return c.clusterNetworkPolicies;
      case 'services':
        return c.services;
      case 'endpointslices':
        return c.endpointSlices;
      default:
        throw new Error(resource);
    }
  };
  return JSON.stringify(pick(), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

export function sameCluster(a: Cluster, b: Cluster): boolean {
  return Object.keys(FAKE_RESOURCES).every((r) => part(a, r) === part(b, r));
}

/** Waits until the source's latest Cluster is the one the server's objects make. */
export async function converged(h: Harness, timeoutMs = 5000): Promise<void> {
  await waitFor(
    'the source to converge on the server state',
    () => h.clusters.length > 0 && sameCluster(h.latest(), expectedCluster(h.server)),
    timeoutMs,
  );
}

// ---- objects ----

export function ns(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return { metadata: { name, labels } };
}

export function pod(
  namespace: string,
  name: string,
  ip: string,
  labels: Record<string, string> = { app: 'web' },
): Record<string, unknown> {
  return {
    metadata: { namespace, name, labels, annotations: { note: 'x'.repeat(50) } },
    spec: {
      nodeName: 'node-1',
      containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

export function node(name: string, cidr: string): Record<string, unknown> {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: { podCIDRs: [cidr] },
    status: { addresses: [{ type: 'InternalIP', address: `192.168.0.${name.length}` }] },
  };
}

export function np(namespace: string, name: string, app = 'web'): Record<string, unknown> {
  return {
    metadata: { namespace, name },
    spec: {
      podSelector: { matchLabels: { app } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 'http' }] }],
    },
  };
}

export function cnp(name: string, priority: number): Record<string, unknown> {
  return {
    metadata: { name },
    spec: {
      tier: 'Admin',
      priority,
      subject: { namespaces: {} },
      ingress: [{ action: 'Deny', from: [{ namespaces: { matchLabels: { team: 'x' } } }] }],
    },
  };
}

export function svc(namespace: string, name: string, port = 80): Record<string, unknown> {
  return {
    metadata: { namespace, name, labels: { app: name } },
    spec: {
      type: 'ClusterIP',
      selector: { app: 'web' },
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [{ name: 'http', port, protocol: 'TCP', targetPort: 'http' }],
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
}

/** An EndpointSlice of `service` as the controller writes it, one endpoint per address. */
export function slice(
  namespace: string,
  name: string,
  service: string,
  addresses: readonly string[],
  ready = true,
): Record<string, unknown> {
  return {
    metadata: {
      namespace,
      name,
      labels: {
        'kubernetes.io/service-name': service,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-01-01T00:00:00Z' },
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Service', name: service, uid: 'u', controller: true },
      ],
    },
    addressType: 'IPv4',
    endpoints: addresses.map((ip, i) => ({
      addresses: [ip],
      conditions: { ready, serving: ready, terminating: false },
      nodeName: 'node-1',
      targetRef: { kind: 'Pod', namespace, name: `p${i}`, uid: `u${i}` },
      deprecatedTopology: { 'kubernetes.io/hostname': 'node-1' },
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

/**
 * A small cluster: 3 namespaces, `pods` pods, 2 nodes, 4 NetworkPolicies, 2
 * ClusterNetworkPolicies, 2 Services and their EndpointSlices.
 */
export function seed(server: FakeApiServer, pods = 30, withCnp = true): void {
  for (const n of ['prod', 'dev', 'kube-system']) server.create('namespaces', ns(n, { env: n }));
  for (let i = 0; i < pods; i++) {
    const n = ['prod', 'dev', 'kube-system'][i % 3] as string;
    server.create('pods', pod(n, `p${i}`, `10.1.${i >> 8}.${i & 255}`));
  }
  server.create('nodes', node('node-1', '10.1.0.0/24'));
  server.create('nodes', node('node-2', '10.1.1.0/24'));
  for (let i = 0; i < 4; i++)
    server.create('networkpolicies', np(i % 2 ? 'prod' : 'dev', `np${i}`));
  if (withCnp)
    for (let i = 0; i < 2; i++) server.create('clusternetworkpolicies', cnp(`cnp${i}`, i));
  for (const n of ['prod', 'dev']) {
    server.create('services', svc(n, 'web'));
    server.create('endpointslices', slice(n, 'web-x1', 'web', ['10.1.0.1', '10.1.0.2']));
  }
}
