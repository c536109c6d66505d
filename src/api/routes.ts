/**
 * Every route of the agent API, declared once: its method and path, the
 * listeners that serve it, its query parameters, and its answer (type,
 * shape, the most a client reads). The agent's server routes by this table
 * and every client (the CLI, the UI server, the lab, the install hook,
 * weft-cni, the tests) asks by it; no other file spells a path.
 *
 * Listeners (docs/security.md): `unix`, the root-only socket, serves every
 * route; `health` (--health) and `observe` (--observe) are read-only TCP
 * listeners that serve the routes naming them.
 *
 * Pure data and checks (no I/O): weft-cni bundles it.
 */
import type { FlowQuery } from '../core/flows/filter.js';
import type { Flow, FlowAddress, FlowService } from '../core/flows/types.js';
import { Limits } from '../core/limits.js';
import {
  arrayOf,
  bool,
  intIn,
  nullable,
  num,
  objectWith,
  oneOf,
  optional,
  recordOf,
  str,
  type Shape,
} from './shape.js';
import type {
  CniWireResponse,
  DirectionView,
  EndpointRecord,
  EndpointView,
  FlowLoss,
  FlowsAnswer,
  FlowStats,
  IpamUsage,
  IrJson,
  PolicyAnswer,
  SourceAnswer,
  SourceStatus,
  StatusAnswer,
  StatusDetail,
  SyncReport,
  TableCounts,
} from './types.js';

export type Listener = 'unix' | 'health' | 'observe';

export interface RouteBase {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** The listeners that serve it; every other answers 404. */
  readonly listeners: readonly Listener[];
  /** The most of its answer a client reads; more is an error naming the route and this. */
  readonly maxBytes: number;
}

/** A route that answers JSON of type T. */
export interface JsonRoute<T> extends RouteBase {
  readonly kind: 'json';
  readonly shape: Shape<T>;
}

/** A route that answers text (Prometheus metrics). */
export interface TextRoute extends RouteBase {
  readonly kind: 'text';
}

/** A JSON route that also streams: newline-delimited JSON, one item a line, while asked to follow. */
export interface StreamingRoute<T, Item> extends JsonRoute<T> {
  readonly stream: {
    /** The query parameter that asks for the stream (`follow=1`). */
    readonly param: string;
    readonly item: Shape<Item>;
    /** The longest line a client reads. */
    readonly maxLineBytes: number;
  };
}

export type Route = JsonRoute<unknown> | TextRoute;

// ---- the answers' shapes: what a client checks before it trusts an answer ----

const syncReport = objectWith<SyncReport>({
  kind: oneOf('full', 'partial', 'noop'),
  ms: num,
  at: str,
  error: optional(str),
});

const tableCounts = objectWith<TableCounts>({
  endpoints: num,
  policies: num,
  rules: num,
  setElements: num,
});

const flowStats = objectWith<Partial<Omit<FlowStats, 'enabled'>>>({
  seen: optional(num),
  buffered: optional(num),
  lost: optional(num),
  losses: optional(objectWith<FlowLoss>({})),
  readers: optional(objectWith<FlowStats['readers']>({})),
  retries: optional(objectWith<FlowStats['retries']>({})),
});

/**
 * `{enabled: false}`, or the flow pipeline's counts. Each count is checked
 * where it is present: an agent older than this client may lack the newer ones.
 */
const flowStatus: Shape<StatusDetail['flows']> = (v, path) => {
  if (objectWith<{ enabled: boolean }>({ enabled: bool })(v, path).enabled) flowStats(v, path);
  return v as StatusDetail['flows'];
};

const status = objectWith<StatusAnswer>({
  ready: bool,
  message: optional(str),
  node: optional(str),
  health: optional(oneOf('starting', 'degraded', 'ok')),
  uptimeSeconds: optional(num),
  lastSync: optional(nullable(syncReport)),
  counts: optional(nullable(tableCounts)),
  flows: optional(flowStatus),
});

const endpoint = objectWith<Flow['source']>({
  kind: oneOf('pod', 'host', 'world'),
  ip: str,
  port: optional(num),
});

const address = objectWith<FlowAddress>({ ip: str, port: optional(num) });

const service = objectWith<FlowService>({
  namespace: str,
  name: str,
  portName: str,
  frontend: objectWith<FlowService['frontend']>({
    kind: oneOf('ClusterIP', 'ExternalIP', 'LoadBalancer', 'NodePort'),
    ip: str,
    port: num,
  }),
});

const flow = objectWith<Flow>({
  time: num,
  node: str,
  direction: oneOf('ingress', 'egress'),
  source: endpoint,
  destination: endpoint,
  protocol: str as Shape<Flow['protocol']>,
  event: oneOf('start', 'end', 'drop'),
  verdict: oneOf('forwarded', 'dropped'),
  decidedBy: objectWith<Flow['decidedBy']>({
    kind: oneOf('rule', 'isolation', 'default', 'unknown'),
  }),
  service: optional(service),
  translatedFrom: optional(address),
  masqueraded: optional(address),
});

const direction = objectWith<DirectionView>({
  isolated: bool,
  isolatedBy: arrayOf(str),
  admin: arrayOf(str),
  baseline: arrayOf(str),
});

const names = arrayOf(str);

// ---- the routes ----

const ROOT_ONLY: readonly Listener[] = ['unix'];
const OBSERVED: readonly Listener[] = ['unix', 'observe'];
const EVERY_LISTENER: readonly Listener[] = ['unix', 'health', 'observe'];
const SMALL = Limits.agentAnswerBytes;
const LARGE = Limits.agentLargeAnswerBytes;

function get<T>(path: string, listeners: readonly Listener[], shape: Shape<T>, maxBytes = SMALL) {
  return { kind: 'json', method: 'GET', path, listeners, shape, maxBytes } as const;
}

export const AgentRoutes = {
  /** One CNI invocation (weft-cni's request, CniWireRequest), answered as the plugin's stdout and exit code. */
  cni: {
    kind: 'json',
    method: 'POST',
    path: '/v1/cni',
    listeners: ROOT_ONLY,
    maxBytes: SMALL,
    shape: objectWith<CniWireResponse>({ exitCode: intIn(0, 255), stdout: str }),
  },
  /** Readiness and the agent's detail: health, last sync, counts, flow counts. */
  status: get<StatusAnswer>('/v1/status', OBSERVED, status),
  /** The same body as status; HTTP 503 while the agent is not ready (the kubelet's probe). */
  healthz: get<StatusAnswer>('/healthz', EVERY_LISTENER, status),
  /** Prometheus text. */
  metrics: {
    kind: 'text',
    method: 'GET',
    path: '/metrics',
    listeners: EVERY_LISTENER,
    maxBytes: SMALL,
  },
  /**
   * The buffered flows that match the `weft observe` filters (FILTER_FLAGS,
   * without dashes, repeatable), oldest first. With `follow=1`: first those,
   * then live ones, one Flow a line, until the client goes away.
   */
  flows: {
    ...get<FlowsAnswer>(
      '/v1/flows',
      OBSERVED,
      objectWith<FlowsAnswer>({ flows: arrayOf(flow), node: str, lost: num }),
      LARGE,
    ),
    stream: { param: 'follow', item: flow, maxLineBytes: Limits.agentStreamLineBytes },
  },
  /** The policy IR the agent enforces (null before its first sync). */
  ir: get<IrJson | null>(
    '/v1/ir',
    OBSERVED,
    nullable(
      objectWith<IrJson>({
        endpoints: arrayOf(objectWith<IrJson['endpoints'][number]>({ key: str, ips: names })),
        policies: arrayOf(objectWith<IrJson['policies'][number]>({ id: str })),
        sets: arrayOf(objectWith<unknown>({})),
      }),
    ),
    LARGE,
  ),
  /** The last sync and the policies the agent knows. */
  policy: get<PolicyAnswer>(
    '/v1/policy',
    OBSERVED,
    objectWith<PolicyAnswer>({
      lastSync: optional(syncReport),
      networkPolicies: names,
      clusterNetworkPolicies: names,
    }),
  ),
  /** The local pods, their labels and the policies that select them. */
  endpointsPolicy: get<EndpointView[]>(
    '/v1/endpoints/policy',
    OBSERVED,
    arrayOf(
      objectWith<EndpointView>({
        namespace: str,
        pod: str,
        ips: names,
        labels: recordOf(str),
        ingress: direction,
        egress: direction,
      }),
    ),
  ),
  /** Where the cluster state comes from, and the agent's Node annotations. */
  source: get<SourceAnswer>(
    '/v1/source',
    OBSERVED,
    objectWith<SourceAnswer>({
      source: nullable(objectWith<SourceStatus>({ kind: oneOf('manifests', 'kubernetes') })),
      nodeAnnotations: nullable(
        objectWith<NonNullable<SourceAnswer['nodeAnnotations']>>({
          published: bool,
          attempts: num,
        }),
      ),
    }),
  ),
  /** The endpoint records (root only: they name network namespaces). */
  endpoints: get<EndpointRecord[]>(
    '/v1/endpoints',
    ROOT_ONLY,
    arrayOf(
      objectWith<EndpointRecord>({
        containerId: str,
        ifname: str,
        netns: str,
        addresses: names,
      }),
    ),
  ),
  /** Each pod CIDR: addresses given out and its capacity. */
  ipam: get<IpamUsage[]>(
    '/v1/ipam',
    ROOT_ONLY,
    arrayOf(objectWith<IpamUsage>({ cidr: str, allocated: num, capacity: num })),
  ),
} as const;

export type AgentRouteName = keyof typeof AgentRoutes;

/** The query of `GET /v1/flows` for a flow query (the flags as given), following or not. */
export function flowParams(query: FlowQuery, follow = false): URLSearchParams {
  const params = new URLSearchParams();
  for (const [flag, value] of query.flags) params.append(flag, value);
  if (follow) params.append(AgentRoutes.flows.stream.param, '1');
  return params;
}

/** The route a request names, or undefined. */
export function routeAt(
  method: string | undefined,
  path: string,
): { readonly name: AgentRouteName; readonly route: Route } | undefined {
  for (const [name, route] of Object.entries(AgentRoutes) as [AgentRouteName, Route][])
    if (route.method === method && route.path === path) return { name, route };
  return undefined;
}
