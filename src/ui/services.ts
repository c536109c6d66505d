import { ErrorCodes, WeftError } from '../core/errors.js';
import { byText, FRONTEND_ORDER } from '../core/flows/service-map.js';
import type { Cluster } from '../core/model/types.js';
import { formatIp } from '../core/net/ip.js';
import { endpointsByPort, portKey } from '../core/services/endpoints.js';
import { buildServiceModel } from '../core/services/model.js';
import type { IgnoreReason } from '../core/services/types.js';
import type {
  ServiceAnswer,
  ServiceEndpointView,
  ServiceFrontendView,
} from '../ui-shared/feed-types.js';
import type { PolicySource } from './policy-source.js';

/**
 * `GET /api/service?service=NS/NAME`: a Service's frontends (its ClusterIPs,
 * external and load balancer IPs, and its node ports on every node's
 * addresses, as the proxy's model makes them) and its endpoints with their
 * conditions, from the cluster's objects where the UI reads them (a lab's
 * manifests, an agent's model). The map's Service box lists what flows
 * reached; this lists what the cluster says.
 */
export async function serviceAnswer(
  policy: PolicySource,
  params: URLSearchParams,
): Promise<ServiceAnswer> {
  const text = params.get('service') ?? '';
  const parts = text.split('/');
  if (parts.length !== 2 || parts.some((p) => p === ''))
    throw WeftError.of({
      code: ErrorCodes.USAGE,
      object: `service=${JSON.stringify(text)}`,
      field: '',
      message: 'must be namespace/name',
      fix: 'e.g. service=shop/web',
    });
  const [namespace, name] = parts as [string, string];
  const cluster = await policy.cluster();
  if (!cluster)
    return {
      reason:
        'this UI does not read the cluster’s objects (it was given agents only): the frontends and endpoints below are those flows reached',
    };
  return serviceView(cluster, namespace, name);
}

/** The Service `namespace/name` of `cluster`, as the page shows it. */
export function serviceView(cluster: Cluster, namespace: string, name: string): ServiceAnswer {
  const s = cluster.services.find((x) => x.namespace === namespace && x.name === name);
  if (!s) return { reason: `the cluster has no Service ${namespace}/${name} (deleted since?)` };
  const nodes = cluster.nodes.length > 0 ? cluster.nodes.map((n) => n.name) : [''];
  const frontends = new Map<string, ServiceFrontendView>();
  let ignored: IgnoreReason | undefined;
  for (const node of nodes) {
    const model = buildServiceModel(cluster, node);
    ignored ??= model.ignored.find((i) => i.namespace === namespace && i.name === name)?.reason;
    for (const p of model.ports) {
      if (p.service.namespace !== namespace || p.service.name !== name) continue;
      for (const f of p.frontends) {
        const view: ServiceFrontendView = {
          kind: f.kind,
          ip: formatIp(f.ip),
          port: f.port,
          protocol: p.protocol,
          portName: p.portName,
          ...(f.kind === 'NodePort' ? { node } : {}),
        };
        frontends.set(`${view.kind} ${view.ip} ${view.port} ${view.protocol}`, view);
      }
    }
  }
  const byPort = endpointsByPort(cluster.endpointSlices, '');
  const endpoints: ServiceEndpointView[] = [];
  for (const p of s.ports)
    for (const family of [4, 6] as const)
      for (const b of byPort.get(portKey(namespace, name, p.name, p.protocol, family)) ?? [])
        endpoints.push({
          ip: formatIp(b.ip),
          port: b.port,
          protocol: p.protocol,
          portName: p.name,
          ...(b.target !== undefined ? { target: b.target } : {}),
          ...(b.nodeName !== undefined ? { nodeName: b.nodeName } : {}),
          ready: b.ready,
          serving: b.serving,
          terminating: b.terminating,
        });
  return {
    service: {
      namespace,
      name,
      type: s.type,
      ...(ignored ? { ignored: ignoredText(ignored) } : {}),
      frontends: [...frontends.values()].sort(
        (a, b) =>
          FRONTEND_ORDER[a.kind] - FRONTEND_ORDER[b.kind] ||
          byText(a.ip, b.ip) ||
          a.port - b.port ||
          byText(a.protocol, b.protocol),
      ),
      endpoints,
    },
  };
}

function ignoredText(r: IgnoreReason): string {
  switch (r.kind) {
    case 'ExternalName':
      return 'an ExternalName Service: DNS answers it, the proxy does not';
    case 'headless':
      return 'headless (clusterIP None): clients reach the endpoints directly';
    case 'no-cluster-ip':
      return 'no ClusterIP allocated yet';
    case 'headless-label':
      return 'labelled service.kubernetes.io/headless: the proxy leaves it alone';
    case 'service-proxy-name':
      return `served by another proxy (service.kubernetes.io/service-proxy-name=${r.proxy})`;
  }
}
