import { formatIp, ipEquals, parseIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import type { Cluster } from '../core/model/types.js';
import { compilePolicies } from '../core/policy/compile.js';
import { Evaluator, type Flow, type TraceResult } from '../core/policy/evaluate.js';
import { irFromJson } from '../core/policy/ir-json.js';
import { buildServiceModel } from '../core/services/model.js';
import { DEFAULT_SERVICE_RANGES } from '../core/services/ranges.js';
import { traceService, type ServiceTrace } from '../core/services/trace.js';
import { entryNode, traceContext } from '../core/services/trace-context.js';
import type { LabState } from '../lab/state.js';
import type { Io } from './main.js';
import { UsageError } from './output.js';
import {
  backendDecisions,
  serviceFlowJson,
  serviceFlowText,
  type BackendDecision,
} from './policy-service-output.js';
import type { TraceView } from './service-trace-output.js';
import { parseAddressTarget } from './targets.js';
import { resolveFlow, traceJson, traceText, type ResolvedFlow } from './trace-output.js';

/**
 * `weft policy trace`: the policy verdict of one connection. When the
 * destination is a Service address, the connection goes through the
 * Service first (the same evaluation as `weft service trace`), and the
 * verdict is given for each endpoint it can reach, on the endpoint's pod
 * port: NetworkPolicy sees the packet after the Service's DNAT.
 */

/** The policy decision of a flow: egress where the source is, ingress where the destination is. */
export type Judge = (flow: Flow, fromPod?: string, toPod?: string) => Promise<TraceResult>;

export interface TraceValues {
  readonly from?: string;
  readonly to?: string;
  readonly port?: readonly string[];
}

/** The decisions of the manifests' policies, compiled once. */
export function offlineJudge(cluster: Cluster): Judge {
  const evaluator = new Evaluator(compilePolicies(cluster));
  return (flow) => Promise.resolve(evaluator.trace(flow));
}

/** The decisions of a lab's agents: egress on the source pod's node IR, ingress on the destination's. */
export async function labJudge(state: LabState, name: string): Promise<Judge> {
  const { askLabAgent } = await import('../lab/agents.js');
  const { AgentRoutes } = await import('../api/routes.js');
  const evaluators = new Map<string, Promise<Evaluator>>();
  const at = (pod: string | undefined): Promise<Evaluator> => {
    const node =
      state.nodes.find((n) => n.name === (pod ? state.pods[pod]?.node : undefined)) ??
      state.nodes[0];
    const key = node?.name ?? '';
    let e = evaluators.get(key);
    if (!e) {
      e = (node ? askLabAgent(node, AgentRoutes.ir) : Promise.resolve(undefined)).then((json) => {
        if (!json)
          throw new Error(
            `the agent of ${node?.name ?? '(no node)'} serves no policy IR: is lab ${name} up?`,
          );
        return new Evaluator(irFromJson(json));
      });
      evaluators.set(key, e);
    }
    return e;
  };
  return async (flow, fromPod, toPod) => {
    const [src, dst] = await Promise.all([at(fromPod), at(toPod)]);
    const egress = src.trace(flow).egress;
    const ingress = dst.trace(flow).ingress;
    return { flow, allowed: egress.allowed && ingress.allowed, egress, ingress };
  };
}

/** `--to IP:PORT[/PROTO]` carries the port; else exactly one `--port`. */
function destination(to: string, ports: readonly string[]): { to: string; port: string } {
  const target = parseAddressTarget(to, '--to');
  if (target?.port !== undefined) {
    const port = `${target.port}/${target.protocol ?? 'TCP'}`;
    if (ports.length > 0)
      throw new UsageError(
        `--to ${to} already names a port; --port ${ports.join(' --port ')} too`,
        `drop --port, or write --to ${formatIp(target.ip)} --port ${port}`,
      );
    return { to: formatIp(target.ip), port };
  }
  if (ports.length !== 1)
    throw new UsageError('trace needs exactly one --port', 'e.g. --port 80/TCP, or --to IP:PORT');
  return { to, port: ports[0] as string };
}

export async function policyTrace(
  cluster: Cluster,
  judge: Judge,
  values: TraceValues,
  format: 'table' | 'json',
  io: Io,
  where: string,
): Promise<number> {
  if (!values.from || !values.to)
    throw new UsageError('trace needs --from and --to', 'e.g. --from prod/web --to prod/db');
  const { to, port } = destination(values.to, values.port ?? []);
  const flow = resolveFlow(cluster, values.from, to, servicePort(cluster, to, port), where);
  const view = flow.toPod ? undefined : throughService(cluster, flow);
  if (!view) {
    const result = await judge(flow.flow, flow.fromPod, flow.toPod);
    io.out(format === 'json' ? traceJson(result, flow) : traceText(result, flow));
    return 0;
  }
  const decisions = await decide(cluster, judge, flow, view.trace);
  io.out(
    format === 'json'
      ? JSON.stringify(serviceFlowJson(flow, view, decisions), null, 2)
      : serviceFlowText(flow, view.trace, decisions),
  );
  return 0;
}

/**
 * A port name given for a ClusterIP is the Service's port of that name
 * (`--to 10.96.0.3 --port sql`); anything else is left to resolveFlow.
 */
function servicePort(cluster: Cluster, to: string, port: string): string {
  const ip = parseIp(to);
  if (!ip || !/^[a-z]/.test(port) || port.includes('/')) return port;
  for (const s of cluster.services) {
    if (s.clusterIps.kind !== 'set' || !s.clusterIps.ips.some((a) => ipEquals(a, ip))) continue;
    const p = s.ports.find((x) => x.name === port);
    if (p) return `${p.port}/${p.protocol}`;
  }
  return port;
}

/** The Service trace of a flow to an address that is no pod's; undefined when no Service is involved. */
function throughService(cluster: Cluster, flow: ResolvedFlow): TraceView | undefined {
  const packet = flow.flow;
  const entry = entryNode(cluster, packet);
  const model = buildServiceModel(cluster, entry?.node ?? '');
  const context = traceContext(cluster, model, packet.src, DEFAULT_SERVICE_RANGES.clusterIps);
  const trace = traceService(model, packet, context);
  if (trace.verdict.kind === 'not-a-service') return undefined;
  return { trace, nodeWhy: entry?.why ?? 'the entry node is not known' };
}

/**
 * Each endpoint's decision, on its pod port. Egress sees the client and the
 * endpoint; ingress sees the client too, unless the connection is
 * masqueraded on its way to another node: then the entry node's address.
 */
async function decide(
  cluster: Cluster,
  judge: Judge,
  flow: ResolvedFlow,
  service: ServiceTrace,
): Promise<BackendDecision[]> {
  const node = cluster.nodes.find((n) => n.name === service.node);
  const nodeAddress = (ip: IpAddr) => node?.addresses.find((a) => a.family === ip.family);
  return Promise.all(
    backendDecisions(service).map(async (b) => {
      const toBackend: Flow = {
        ...flow.flow,
        dst: b.endpoint.backend.ip,
        port: b.endpoint.backend.port,
      };
      const crosses = b.endpoint.backend.nodeName !== service.node;
      const masked = b.endpoint.masquerade && crosses ? nodeAddress(toBackend.src) : undefined;
      const out = await judge(toBackend, flow.fromPod, b.pod);
      if (!masked) return { ...b, result: out };
      const seen = await judge({ ...toBackend, src: masked }, undefined, b.pod);
      const result = {
        ...out,
        allowed: out.egress.allowed && seen.ingress.allowed,
        ingress: seen.ingress,
      };
      return { ...b, result, ingressFrom: masked };
    }),
  );
}
