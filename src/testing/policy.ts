import assert from 'node:assert/strict';
import { withDefaultAddresses } from '../core/model/addresses.js';
import { buildCluster } from '../core/model/cluster.js';
import { parseObject } from '../core/model/parse.js';
import { WeftError } from '../core/errors.js';
import { podKey, type Cluster, type Protocol } from '../core/model/types.js';
import { compilePolicies } from '../core/policy/compile.js';
import { Evaluator, type TraceResult } from '../core/policy/evaluate.js';
import { policyMatrix } from '../core/policy/matrix-report.js';
import { parseIp } from '../core/net/ip.js';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

/** A cluster from multi-document YAML; any parse issue fails the test loudly. */
export function clusterFrom(yaml: string): Cluster {
  const objects = parseAllDocuments(yaml)
    .map((d) => d.toJS() as unknown)
    .filter((o) => o !== null)
    .map((raw) => {
      const r = parseObject(raw);
      if (r.issues.length > 0) throw new WeftError(r.issues);
      return r.object;
    })
    .filter((o) => o !== undefined);
  const built = buildCluster(objects);
  if (built.issues.length > 0) throw new WeftError(built.issues);
  return withDefaultAddresses(built.cluster).cluster;
}

export { parseYaml };

/** Traces one flow and checks that the bitset matrix says the same. */
export class PolicyWorld {
  readonly cluster: Cluster;
  readonly evaluator: Evaluator;

  constructor(yaml: string) {
    this.cluster = clusterFrom(yaml);
    this.evaluator = new Evaluator(compilePolicies(this.cluster));
  }

  ip(target: string) {
    const ip = parseIp(target);
    if (ip) return ip;
    const pod = this.cluster.pods.find((p) => podKey(p) === target);
    const first = pod?.ips[0];
    if (!first) throw new Error(`no pod ${target}`);
    return first;
  }

  trace(from: string, to: string, port: string): TraceResult {
    const [num, proto = 'TCP'] = port.split('/');
    return this.evaluator.trace({
      src: this.ip(from),
      dst: this.ip(to),
      protocol: proto as Protocol,
      port: Number(num),
    });
  }

  /** The verdict, after checking the matrix agrees when both ends are pods. */
  allowed(from: string, to: string, port = '80/TCP'): boolean {
    const t = this.trace(from, to, port);
    const keys = this.cluster.pods.map(podKey);
    const i = keys.indexOf(from);
    const j = keys.indexOf(to);
    if (i >= 0 && j >= 0) {
      const m = policyMatrix(this.cluster, this.evaluator.ir, [
        { port: t.flow.port, protocol: t.flow.protocol },
      ]);
      assert.equal(
        m.probes[0]?.allowed(i, j),
        t.allowed,
        `matrix disagrees with trace for ${from} -> ${to} ${port}`,
      );
    }
    return t.allowed;
  }
}

/** `Pod` YAML with labels, optional node, ports and IP. */
export function pod(
  ns: string,
  name: string,
  labels: Record<string, string> = {},
  opts: {
    node?: string;
    ports?: { name?: string; port: number; protocol?: string }[];
    ip?: string;
    hostNetwork?: boolean;
  } = {},
): string {
  const ports = (opts.ports ?? []).map((p) => ({
    containerPort: p.port,
    ...(p.name ? { name: p.name } : {}),
    ...(p.protocol ? { protocol: p.protocol } : {}),
  }));
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: ns, name, labels },
    spec: {
      ...(opts.node ? { nodeName: opts.node } : {}),
      ...(opts.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'c', image: 'x', ...(ports.length ? { ports } : {}) }],
    },
    ...(opts.ip ? { status: { podIP: opts.ip, podIPs: [{ ip: opts.ip }] } } : {}),
  });
}

export function namespace(name: string, labels: Record<string, string> = {}): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
}

export function docs(...parts: string[]): string {
  return parts.join('\n---\n');
}
