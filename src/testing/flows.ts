/**
 * Flows for the tests of what is built from them (the service map, its
 * layout, the join across agents): three pods, a Service, and a flow
 * between any two.
 */
import type {
  DecidedBy,
  Flow,
  FlowAddress,
  FlowEndpoint,
  FlowService,
} from '../core/flows/types.js';

/** A Deployment's pod in namespace shop. */
export const web: FlowEndpoint = {
  kind: 'pod',
  ip: '10.244.1.2',
  port: 40000,
  namespace: 'shop',
  pod: 'web-7d9f-abcde',
  labels: { app: 'web', 'pod-template-hash': '7d9f' },
  workload: { kind: 'ReplicaSet', name: 'web-7d9f' },
};
/** A bare pod in shop, labelled app=db. */
export const db: FlowEndpoint = {
  kind: 'pod',
  ip: '10.244.2.3',
  port: 5432,
  namespace: 'shop',
  pod: 'db',
  labels: { app: 'db' },
};
/** A bare pod without labels in namespace tools. */
export const loadgen: FlowEndpoint = {
  kind: 'pod',
  ip: '10.244.1.9',
  port: 41000,
  namespace: 'tools',
  pod: 'loadgen',
  labels: {},
};

/** Service shop/db-svc: its ClusterIP frontend on port 5432, named `pg`. */
export const dbService: FlowService = {
  namespace: 'shop',
  name: 'db-svc',
  portName: 'pg',
  frontend: { kind: 'ClusterIP', ip: '10.96.0.20', port: 5432 },
};

export interface FlowExtra {
  readonly node?: string;
  readonly direction?: 'ingress' | 'egress';
  readonly decidedBy?: DecidedBy;
  readonly bytes?: number;
  readonly service?: FlowService;
  readonly masqueraded?: FlowAddress;
}

/** A TCP flow recorded on node-1 (or `extra.node`); an end carries 3 packets each way and `bytes`. */
export function flow(
  time: number,
  source: FlowEndpoint,
  destination: FlowEndpoint,
  event: 'start' | 'drop' | 'end',
  extra: FlowExtra = {},
): Flow {
  const common = {
    time,
    node: extra.node ?? 'node-1',
    direction: extra.direction ?? 'egress',
    source,
    destination,
    protocol: 'TCP' as const,
    ipProtocol: 6,
    ...(extra.service ? { service: extra.service } : {}),
    ...(extra.masqueraded ? { masqueraded: extra.masqueraded } : {}),
  };
  const decidedBy = extra.decidedBy ?? { kind: 'default' };
  if (event === 'drop') return { ...common, event, verdict: 'dropped', decidedBy };
  if (event === 'start') return { ...common, event, verdict: 'forwarded', decidedBy };
  const half = { packets: 3, bytes: extra.bytes ?? 0 };
  return {
    ...common,
    event,
    verdict: 'forwarded',
    decidedBy,
    counters: { original: half, reply: half },
  };
}
