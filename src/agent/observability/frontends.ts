import type { FlowProtocol, FlowService } from '../../core/flows/types.js';
import type { Cluster } from '../../core/model/types.js';
import { formatIp, ipKey, parseIp } from '../../core/net/ip.js';
import { buildServiceModel } from '../../core/services/model.js';

/**
 * The Service frontends this node's proxy translates, by protocol, address
 * and port: what a connection's original destination is looked up in when
 * conntrack shows it was translated. The frontends are the Service model's
 * (core/services/model.ts): ClusterIPs, external IPs, VIP load balancer IPs
 * and the node ports on this node's own addresses, as the proxy renders them.
 * Built once per Service and Node list; a lookup is one map access.
 */
export class ServiceFrontends {
  private readonly byKey = new Map<string, FlowService>();

  constructor(cluster: Cluster | undefined, node: string) {
    if (!cluster || cluster.services.length === 0) return;
    // Frontends do not depend on endpoints: the model is built without them.
    const model = buildServiceModel({ ...cluster, endpointSlices: [] }, node);
    for (const p of model.ports)
      for (const f of p.frontends)
        this.byKey.set(`${p.protocol} ${ipKey(f.ip)} ${f.port}`, {
          namespace: p.service.namespace,
          name: p.service.name,
          portName: p.portName,
          frontend: { kind: f.kind, ip: formatIp(f.ip), port: f.port },
        });
  }

  /** How many frontends it knows. */
  get size(): number {
    return this.byKey.size;
  }

  /** The Service port whose frontend is `ip`:`port` over `protocol` (a text address as the kernel printed it). */
  lookup(protocol: FlowProtocol, ip: string, port: number | undefined): FlowService | undefined {
    if (port === undefined || this.byKey.size === 0) return undefined;
    const addr = parseIp(ip);
    if (!addr) return undefined;
    return this.byKey.get(`${protocol} ${ipKey(addr)} ${port}`);
  }
}
