/**
 * Random clusters of Services and hand-written EndpointSlices, for the
 * property tests of the service proxy and for the kernel's check of the
 * fake: three nodes, Services of every type with one or two ports on TCP,
 * UDP or SCTP, traffic policies, affinity, external and load balancer IPs
 * (some with source ranges), Maglev on some, and endpoints on any node in
 * any condition. Every address and port is written, so no allocation runs.
 */
import { endpointSlice, node, service, type EndpointSpec } from './services.js';
import { Rng } from './random-cluster.js';

type Raw = Record<string, unknown>;

export const RANDOM_NODES = [
  { name: 'n1', address: '192.168.0.1' },
  { name: 'n2', address: '192.168.0.2' },
  { name: 'n3', address: '192.168.0.3' },
] as const;

/** Where random load balancer source ranges come from: half the external clients are in them. */
export const LB_SOURCE_RANGE = '198.51.100.0/25';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

export function randomServices(seed: number, services = 4): Raw[] {
  const r = new Rng(seed);
  const out: Raw[] = RANDOM_NODES.map((n) => node(n.name, [n.address]));
  for (let i = 0; i < services; i++) {
    const name = `s${i}`;
    const type = r.pick(['ClusterIP', 'NodePort', 'LoadBalancer'] as const);
    const externalIPs = r.chance(0.3) ? [`192.168.230.${10 + i}`] : [];
    const external = type !== 'ClusterIP' || externalIPs.length > 0;
    const count = 1 + r.int(2);
    const ports = Array.from({ length: count }, (_, j) => {
      const protocol = r.pick(PROTOCOLS);
      return {
        name: `p${j}`,
        port: 80 + j,
        protocol,
        targetPort: 8080 + j,
        ...(type !== 'ClusterIP' ? { nodePort: 30000 + i * 10 + j } : {}),
      };
    });
    const spec: Raw = {
      type,
      clusterIP: `10.96.0.${10 + i}`,
      ports,
      ...(externalIPs.length ? { externalIPs } : {}),
      ...(external && r.chance(0.5) ? { externalTrafficPolicy: 'Local' } : {}),
      ...(r.chance(0.3) ? { internalTrafficPolicy: 'Local' } : {}),
      ...(r.chance(0.3)
        ? {
            sessionAffinity: 'ClientIP',
            sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } },
          }
        : {}),
      ...(type === 'LoadBalancer' && r.chance(0.5)
        ? { loadBalancerSourceRanges: [LB_SOURCE_RANGE] }
        : {}),
    };
    if (spec['externalTrafficPolicy'] === 'Local' && type === 'LoadBalancer')
      spec['healthCheckNodePort'] = 32000 + i;
    const maglev = r.chance(0.3);
    const extra: Raw = {
      metadata: {
        namespace: 'shop',
        name,
        ...(maglev ? { annotations: { 'service.weft.dev/lb-algorithm': 'maglev' } } : {}),
      },
      ...(type === 'LoadBalancer'
        ? { status: { loadBalancer: { ingress: [{ ip: `192.168.230.${100 + i}` }] } } }
        : {}),
    };
    out.push(service('shop', name, spec, extra));
    const endpoints: EndpointSpec[] = Array.from({ length: r.int(4) }, (_, k) => {
      const at = r.int(RANDOM_NODES.length);
      const ready = r.chance(0.7);
      return {
        ip: `10.244.${at + 1}.${10 + i * 10 + k}`,
        node: RANDOM_NODES[at]?.name,
        pod: `${name}-${k}`,
        ready,
        serving: ready || r.chance(0.5),
        terminating: !ready && r.chance(0.7),
      };
    });
    out.push(
      endpointSlice(
        'shop',
        `${name}-1`,
        name,
        ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })),
        endpoints,
      ),
    );
  }
  return out;
}
