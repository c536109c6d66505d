import type { Cluster } from '../core/model/types.js';
import { formatCidr } from '../core/net/cidr.js';
import { formatIp } from '../core/net/ip.js';
import { buildServiceModel } from '../core/services/model.js';
import type { Backend, ServicePortModel, TrafficPlan } from '../core/services/types.js';
import { endpointSlice, node, service } from './services.js';

/** Service models as short text, for tests whose expected values are written by hand. */

export const nodes = [
  node('n1', ['192.168.0.1', '203.0.113.1'], 'zone-a'),
  node('n2', ['192.168.0.2'], 'zone-b'),
];

export function backendText(b: Backend): string {
  const flags = `${b.ready ? 'R' : '-'}${b.serving ? 'S' : '-'}${b.terminating ? 'T' : '-'}`;
  return `${formatIp(b.ip)}:${b.port} ${flags}${b.local ? ' local' : ''}`;
}

function planText(p: TrafficPlan | undefined): string[] | undefined {
  return p?.steps.map((s) => {
    const v = s.verdict;
    const to = v.kind === 'endpoints' ? `${v.set} endpoints` : `${v.kind} (${v.reason})`;
    return `${s.from}${s.masquerade ? ' masquerade' : ''} -> ${to}`;
  });
}

function portText(p: ServicePortModel): Record<string, unknown> {
  return {
    id: `${p.id} IPv${p.family}`,
    frontends: p.frontends.map((f) => {
      const base = `${f.kind} ${formatIp(f.ip)}:${f.port}`;
      if (f.kind !== 'LoadBalancer' || f.sources.kind === 'any') return base;
      return `${base} from ${f.sources.cidrs.map(formatCidr).join(',')}`;
    }),
    cluster: p.clusterEndpoints.map(backendText),
    local: p.localEndpoints.map(backendText),
    internal: planText(p.internal),
    external: planText(p.external),
  };
}

export function model(c: Cluster, nodeName = 'n1'): Record<string, unknown>[] {
  return buildServiceModel(c, nodeName).ports.map(portText);
}

export const web = (spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  service(
    'shop',
    'web',
    { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...spec },
    extra,
  );

export const webSlice = (
  endpoints: Parameters<typeof endpointSlice>[4],
  name = 'web-1',
  ports: Record<string, unknown>[] = [{ name: 'http', port: 8080 }],
) => endpointSlice('shop', name, 'web', ports, endpoints);

export const CLUSTER_TRAFFIC = ['pod -> cluster endpoints', 'any masquerade -> cluster endpoints'];
