import type { FlowProtocol, FlowService } from '../../core/flows/types.js';
import type { Cluster } from '../../core/model/types.js';
import { formatIp, ipKey, parseIp } from '../../core/net/ip.js';
import { buildServiceModel } from '../../core/services/model.js';
import type { ServiceModel } from '../../core/services/types.js';

/**
 * The Service frontends this node translates, by protocol, address and
 * port: what a connection's original destination is looked up in when
 * conntrack shows it was translated. They are a Service model's
 * (core/services/model.ts) — ClusterIPs, external IPs, VIP load balancer IPs
 * and the node ports on this node's own addresses: the model this node's
 * proxy renders, or, where another proxy translates (kube-proxy), the one
 * built from the cluster's Services. Indexed at the first lookup (a node
 * that translates nothing never builds it); a lookup is one map access.
 */
export class ServiceFrontends {
  private byKey: Map<string, FlowService> | undefined;

  private constructor(private readonly model: () => ServiceModel | undefined) {}

  /** The frontends of `model`. */
  static of(model: ServiceModel): ServiceFrontends {
    return new ServiceFrontends(() => model);
  }

  /** The frontends `node`'s proxy would have for the cluster's Services (its model, without endpoints). */
  static fromCluster(cluster: Cluster | undefined, node: string): ServiceFrontends {
    return new ServiceFrontends(() =>
      cluster && cluster.services.length > 0
        ? buildServiceModel({ ...cluster, endpointSlices: [] }, node)
        : undefined,
    );
  }

  /** How many frontends it knows. */
  get size(): number {
    return this.index().size;
  }

  /** The Service port whose frontend is `ip`:`port` over `protocol` (a text address as the kernel printed it). */
  lookup(protocol: FlowProtocol, ip: string, port: number | undefined): FlowService | undefined {
    if (port === undefined) return undefined;
    const addr = parseIp(ip);
    if (!addr) return undefined;
    return this.index().get(`${protocol} ${ipKey(addr)} ${port}`);
  }

  private index(): Map<string, FlowService> {
    if (this.byKey) return this.byKey;
    const byKey = new Map<string, FlowService>();
    for (const p of this.model()?.ports ?? [])
      for (const f of p.frontends)
        byKey.set(`${p.protocol} ${ipKey(f.ip)} ${f.port}`, {
          namespace: p.service.namespace,
          name: p.service.name,
          portName: p.portName,
          frontend: { kind: f.kind, ip: formatIp(f.ip), port: f.port },
        });
    this.byKey = byKey;
    return byKey;
  }
}
