import type { ServiceProxyConfig } from '../agent/agent.js';
import type { SourceSpec } from '../agent/source.js';
import { LOAD_BALANCINGS, type LoadBalancing } from '../core/model/service-types.js';
import { parseCidr } from '../core/net/cidr.js';
import type { Cidr } from '../core/net/types.js';
import { DEFAULT_SERVICE_RANGES } from '../core/services/ranges.js';
import { parseHostPort } from './host-port.js';
import { UsageError } from './output.js';

/** The agent's Service proxy flags, for its help text. */
export const SERVICE_PROXY_HELP = `  --service-proxy on|off  forward Services in nftables (inet weft-services) in
                          place of kube-proxy (default on; off where kube-proxy
                          stays)
  --service-cidr CIDR     a service range: its addresses no Service has are
                          dropped (repeatable, one a family). Default with
                          --source manifests: 10.96.0.0/16, where weft gives
                          ClusterIPs; with --source kubernetes: none (give the
                          API server's --service-cluster-ip-range)
  --service-lb-algorithm random|maglev
                          how a new connection picks its endpoint, for
                          Services without the service.weft.dev/lb-algorithm
                          annotation (default random)
  --proxy-healthz HOST:PORT
                          serve kube-proxy's /healthz and /livez (load
                          balancers probe 10256), e.g. 0.0.0.0:10256`;

export interface ServiceProxyFlags {
  readonly 'service-proxy': string;
  readonly 'service-cidr'?: readonly string[];
  readonly 'service-lb-algorithm': string;
  readonly 'proxy-healthz'?: string;
}

export const SERVICE_PROXY_OPTIONS = {
  'service-proxy': { type: 'string', default: 'on' },
  'service-cidr': { type: 'string', multiple: true },
  'service-lb-algorithm': { type: 'string', default: 'random' },
  'proxy-healthz': { type: 'string' },
} as const;

/** The Service proxy's configuration from the flags; undefined when it is off. */
export function serviceProxyConfig(
  v: ServiceProxyFlags,
  source: SourceSpec | undefined,
): ServiceProxyConfig | undefined {
  const on = v['service-proxy'];
  if (on !== 'on' && on !== 'off')
    throw new UsageError(`--service-proxy ${on}: must be on or off`, 'e.g. --service-proxy off');
  const algorithm = v['service-lb-algorithm'];
  if (!(LOAD_BALANCINGS as readonly string[]).includes(algorithm))
    throw new UsageError(
      `--service-lb-algorithm ${algorithm}: unknown`,
      `use ${LOAD_BALANCINGS.join(' or ')}`,
    );
  const cidrs = (v['service-cidr'] ?? []).map((text): Cidr => {
    const c = parseCidr(text);
    if (!c || c.hadHostBits)
      throw new UsageError(
        `--service-cidr ${text}: not a CIDR without host bits`,
        'write it as ADDRESS/PREFIX, e.g. 10.96.0.0/16',
      );
    return c.cidr;
  });
  if (new Set(cidrs.map((c) => c.family)).size !== cidrs.length)
    throw new UsageError(
      '--service-cidr given twice for one address family',
      'give at most one IPv4 and one IPv6 range',
    );
  if (on === 'off' || !source) return undefined;
  const healthz = v['proxy-healthz']
    ? parseHostPort('proxy-healthz', v['proxy-healthz'], '0.0.0.0:10256')
    : undefined;
  const defaults = source.kind === 'manifests' ? DEFAULT_SERVICE_RANGES.clusterIps : [];
  return {
    serviceCidrs: cidrs.length > 0 ? cidrs : defaults,
    loadBalancing: algorithm as LoadBalancing,
    ...(healthz ? { healthz } : {}),
  };
}
