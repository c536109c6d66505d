import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HealthCheck } from '../../core/services/types.js';
import type { HealthPath, ServiceProxyMetrics } from './metrics.js';

/**
 * The Service proxy's HTTP health answers, as kube-proxy gives them
 * (pkg/proxy/healthcheck):
 *
 * - for each LoadBalancer with externalTrafficPolicy Local, a server on
 *   the node's addresses at its healthCheckNodePort, any path: 200 when the
 *   node has a ready endpoint of the Service and the proxy is healthy, else
 *   503, so a load balancer sends only to nodes that can serve locally;
 * - node-wide, `/healthz` (the proxy is healthy and the node not going
 *   away) and `/livez` (the proxy is healthy).
 *
 * These listeners answer anyone, as kube-proxy's do: a cloud load
 * balancer's probes come from its own addresses, which no access rule
 * knows. They serve GET and HEAD only, say no more than a Service's name and
 * its local endpoint count, and are bounded (connections, header size,
 * time), like every weft listener.
 */

export interface HealthCheckLimits {
  /** Connections one server holds at once; more are closed as they come. */
  readonly maxConnections: number;
  /** Request line and headers; more is answered 431. */
  readonly maxHeaderBytes: number;
  /** A request body (none is expected) past this closes the connection. */
  readonly maxBodyBytes: number;
  /** The request's headers must arrive within this. */
  readonly headersTimeoutMs: number;
  /** A connection with nothing to do is closed after this. */
  readonly idleTimeoutMs: number;
}

export const HEALTH_CHECK_LIMITS: HealthCheckLimits = {
  maxConnections: 64,
  maxHeaderBytes: 8192,
  maxBodyBytes: 1024,
  headersTimeoutMs: 5000,
  idleTimeoutMs: 10_000,
};

/** Whether the proxy keeps its rules up to date: kube-proxy's healthz state. */
export interface ProxyHealthReport {
  readonly healthy: boolean;
  /** When the rules were last committed (ms since the epoch); undefined: not yet. */
  readonly lastUpdated?: number;
  readonly currentTime: number;
  readonly nodeEligible: boolean;
}

/**
 * The proxy is healthy unless a change has waited longer than the timeout
 * for its rules (kube-proxy: twice its sync period, 60 s by default).
 */
export class ProxyHealth {
  private lastUpdated: number | undefined;
  private pendingSince: number | undefined;
  private eligible = true;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(opts: { readonly timeoutMs?: number; readonly now?: () => number } = {}) {
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** A Service or EndpointSlice change arrived that the rules do not carry yet. */
  queued(): void {
    this.pendingSince ??= this.now();
  }

  /** Rules carrying every change queued so far were committed. */
  updated(): void {
    this.pendingSince = undefined;
    this.lastUpdated = this.now();
  }

  /** False while the node is being deleted (or drained by the cluster autoscaler): `/healthz` answers 503. */
  setNodeEligible(eligible: boolean): void {
    this.eligible = eligible;
  }

  report(): ProxyHealthReport {
    const currentTime = this.now();
    const late =
      this.pendingSince !== undefined && currentTime - this.pendingSince >= this.timeoutMs;
    return {
      healthy: !late,
      ...(this.lastUpdated !== undefined ? { lastUpdated: this.lastUpdated } : {}),
      currentTime,
      nodeEligible: this.eligible,
    };
  }
}

/** A bounded HTTP server answering GET and HEAD with `answer(path)`. */
function healthServer(
  limits: HealthCheckLimits,
  answer: (path: string) => { status: number; body: string; headers?: Record<string, string> },
): Server {
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.headersTimeoutMs * 2,
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    (req: IncomingMessage, res: ServerResponse) => {
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBodyBytes) req.socket.destroy();
      });
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0, connection: 'close' });
        return res.end();
      }
      const a = answer((req.url ?? '/').split('?')[0] ?? '/');
      res.writeHead(a.status, {
        'Content-Type': 'application/json',
        'X-Content-Type-Options': 'nosniff',
        'Content-Length': Buffer.byteLength(a.body),
        ...a.headers,
      });
      res.end(req.method === 'HEAD' ? undefined : a.body);
    },
  );
  server.maxConnections = limits.maxConnections;
  server.keepAliveTimeout = Math.min(5000, limits.idleTimeoutMs);
  server.timeout = limits.idleTimeoutMs;
  return server;
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      // Later errors are failed accepts (EMFILE ...): the socket keeps listening.
      server.on('error', () => undefined);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Why a listen failed, in words: what is at the address, and what follows. */
function listenFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'the port is already in use (another process listens there)';
  if (code === 'EADDRNOTAVAIL') return 'the address is not one of this node’s';
  return e instanceof Error ? e.message : String(e);
}

const hostPort = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** One time as Go writes it in JSON; the zero time when there is none, as kube-proxy's. */
function goTime(ms: number | undefined): string {
  return ms === undefined ? '0001-01-01T00:00:00Z' : new Date(ms).toISOString();
}

/**
 * The node-wide `/healthz` and `/livez` at `host:port` (kube-proxy's
 * `--healthz-bind-address`, default port 10256). Rejects, naming the
 * address, when it cannot listen.
 */
export async function serveProxyHealth(
  at: { readonly host: string; readonly port: number },
  health: ProxyHealth,
  opts: { readonly metrics?: ServiceProxyMetrics; readonly limits?: HealthCheckLimits } = {},
): Promise<Server> {
  const server = healthServer(opts.limits ?? HEALTH_CHECK_LIMITS, (path) => {
    if (path !== '/healthz' && path !== '/livez')
      return { status: 404, body: JSON.stringify({ error: `no route ${path}` }) };
    const which: HealthPath = path === '/healthz' ? 'healthz' : 'livez';
    const r = health.report();
    const ok = r.healthy && (which === 'livez' || r.nodeEligible);
    opts.metrics?.onHealthz(which, ok ? 200 : 503);
    // Healthy, "lastUpdated" is now: kube-proxy keeps that meaning from its older releases.
    const body = {
      lastUpdated: goTime(ok ? r.currentTime : r.lastUpdated),
      currentTime: goTime(r.currentTime),
      ...(which === 'healthz' ? { nodeEligible: r.nodeEligible } : {}),
      healthy: r.healthy,
    };
    return { status: ok ? 200 : 503, body: JSON.stringify(body) };
  });
  try {
    await listenOn(server, at.host, at.port);
  } catch (e) {
    throw new Error(
      `the proxy health listener on ${hostPort(at.host, at.port)}: ${listenFailure(e)}`,
      {
        cause: e,
      },
    );
  }
  return server;
}

type ServiceName = HealthCheck['service'];

/** A health check that could not be served, and why. */
export interface HealthCheckProblem {
  readonly service: ServiceName;
  readonly port: number;
  readonly address: string;
  /** `Service shop/web: healthCheckNodePort 32000 on 192.168.0.1:32000: the port is already in use ...` */
  readonly message: string;
}

export interface HealthCheckStatus {
  readonly serving: readonly {
    readonly service: ServiceName;
    readonly port: number;
    readonly addresses: readonly string[];
    readonly localEndpoints: number;
  }[];
  /** Retried at every sync. */
  readonly failed: readonly HealthCheckProblem[];
}

interface Instance {
  readonly service: ServiceName;
  readonly port: number;
  readonly addresses: readonly string[];
  localEndpoints: number;
  readonly servers: readonly Server[];
}

const keyOf = (s: ServiceName) => `${s.namespace}/${s.name}`;

/**
 * The healthCheckNodePort servers of one node, kept equal to the model's
 * health checks: opened as they come, closed as they go, reopened when the
 * port or the node's addresses change; a count of local endpoints changes
 * in place. A port that cannot be opened is reported (naming the Service
 * and the port) and retried at the next sync; the others are served.
 */
export class ServiceHealthServers {
  private readonly instances = new Map<string, Instance>();
  private failed: readonly HealthCheckProblem[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly limits: HealthCheckLimits;

  constructor(
    private readonly opts: {
      /** The proxy's health: its answers say 503 while it is unhealthy (kube-proxy's serviceProxyHealthy). */
      readonly health?: ProxyHealth;
      readonly metrics?: ServiceProxyMetrics;
      readonly limits?: HealthCheckLimits;
    } = {},
  ) {
    this.limits = opts.limits ?? HEALTH_CHECK_LIMITS;
  }

  /**
   * Serves `checks` (the model's healthChecks) on `addresses` (the node's,
   * e.g. its InternalIP and ExternalIP; `0.0.0.0` or `::` for all). Syncs
   * run one after another; each resolves with the status it left.
   */
  sync(checks: readonly HealthCheck[], addresses: readonly string[]): Promise<HealthCheckStatus> {
    const run = this.queue.then(() => this.apply(checks, addresses));
    this.queue = run.catch(() => undefined);
    return run;
  }

  status(): HealthCheckStatus {
    const serving = [...this.instances.values()]
      .sort((a, b) => (keyOf(a.service) < keyOf(b.service) ? -1 : 1))
      .map(({ service, port, addresses, localEndpoints }) => ({
        service,
        port,
        addresses,
        localEndpoints,
      }));
    return { serving, failed: this.failed };
  }

  /** Closes every server (the agent stops). */
  close(): Promise<HealthCheckStatus> {
    return this.sync([], []);
  }

  private async apply(
    checks: readonly HealthCheck[],
    addresses: readonly string[],
  ): Promise<HealthCheckStatus> {
    const want = new Map(checks.map((c) => [keyOf(c.service), c]));
    for (const [key, inst] of this.instances) {
      const c = want.get(key);
      const same = c?.nodePort === inst.port && inst.addresses.join() === addresses.join();
      if (same) continue;
      this.instances.delete(key);
      await Promise.all(inst.servers.map(closeServer));
    }
    const failed: HealthCheckProblem[] = [];
    for (const key of [...want.keys()].sort()) {
      const c = want.get(key) as HealthCheck;
      const inst = this.instances.get(key);
      if (inst) inst.localEndpoints = c.localEndpoints;
      else {
        const opened = await this.open(c, addresses);
        if ('problem' in opened) failed.push(opened.problem);
        else this.instances.set(key, opened.instance);
      }
    }
    this.failed = failed;
    this.opts.metrics?.setHealthCheckServers(this.instances.size, failed.length);
    return this.status();
  }

  /** All the addresses of one health check, or none (what was opened is closed again, as kube-proxy does). */
  private async open(
    c: HealthCheck,
    addresses: readonly string[],
  ): Promise<{ instance: Instance } | { problem: HealthCheckProblem }> {
    const name = `Service ${keyOf(c.service)}: healthCheckNodePort ${c.nodePort}`;
    if (addresses.length === 0) {
      const message = `${name}: no node address to listen on (its health check is not served)`;
      return { problem: { service: c.service, port: c.nodePort, address: '', message } };
    }
    const servers: Server[] = [];
    const inst: Instance = {
      service: c.service,
      port: c.nodePort,
      addresses: [...addresses],
      localEndpoints: c.localEndpoints,
      servers,
    };
    for (const address of addresses) {
      const server = healthServer(this.limits, () => this.answer(inst));
      try {
        await listenOn(server, address, c.nodePort);
        servers.push(server);
      } catch (e) {
        await Promise.all(servers.map(closeServer));
        const where = hostPort(address, c.nodePort);
        const message = `${name} on ${where}: ${listenFailure(e)}; its health check is not served here (retried at the next sync)`;
        return { problem: { service: c.service, port: c.nodePort, address, message } };
      }
    }
    return { instance: inst };
  }

  private answer(inst: Instance) {
    const count = inst.localEndpoints;
    const healthy = this.opts.health?.report().healthy ?? true;
    const body = {
      service: { namespace: inst.service.namespace, name: inst.service.name },
      localEndpoints: count,
      serviceProxyHealthy: healthy,
    };
    return {
      status: count > 0 && healthy ? 200 : 503,
      body: JSON.stringify(body, null, '\t'),
      headers: { 'X-Load-Balancing-Endpoint-Weight': String(count) },
    };
  }
}
