import { ErrorCodes, WeftError } from '../../core/errors.js';
import type { Cluster } from '../../core/model/types.js';
import { ClusterAssembler, parseApiObject, PartSharer, type Parsed } from './assemble.js';
import { KubeClient } from './client.js';
import type { KubeConfig } from './config.js';
import { KubeError } from './errors.js';
import { Reflector, type Change, type ReflectorStatus } from './reflector.js';
import { RESOURCES, type ResourceSpec } from './resources.js';

/**
 * The Kubernetes API source: one reflector per resource (Namespaces, Pods,
 * Nodes, NetworkPolicies, ClusterNetworkPolicies, Services, EndpointSlices),
 * their objects projected
 * and parsed as they arrive, a Cluster handed on once every resource has
 * listed, then after every change: a change after a quiet spell at once (the
 * events of the same read together), then at most one Cluster every
 * `debounceMs` while changes keep coming, so a burst costs a few builds.
 * An invalid object is reported (object, field, fix) and left out; the rest
 * of the cluster goes on. Same shape as watchManifests.
 */

export interface KubernetesWatchOptions {
  /** At most one Cluster this often while changes keep coming (default 5 ms). */
  readonly debounceMs?: number;
  /** LIST page size (default 500). */
  readonly pageSize?: number;
  /** Each watch asks the server to end it after [t, 2t) seconds (default 300). */
  readonly watchTimeoutSeconds?: number;
  /** Bound on waiting for response headers and for each LIST page (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** A watch silent this long is dropped and resumed (default: its timeout + 30 s). */
  readonly idleTimeoutMs?: number;
  /** Relist every resource this often even when nothing failed (default 0: never). */
  readonly resyncMs?: number;
  /** Backoff after failures: initial and maximum delay (default 500 ms, 30 s), with jitter. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** How often to look again for an API that was not served (default 60 s). */
  readonly absentRetryMs?: number;
  readonly random?: () => number;
  /** Abandons the wait for the first sync (the returned promise rejects, everything stops). */
  readonly signal?: AbortSignal;
  /** Resolve at once instead of after the first Cluster (status() tells progress). */
  readonly waitForSync?: boolean;
}

export interface KubernetesSourceStatus {
  /** The API server and where its configuration came from. */
  readonly server: string;
  readonly origin: string;
  /** Every resource has listed once (and a Cluster was handed on). */
  readonly synced: boolean;
  readonly resources: readonly ReflectorStatus[];
  /** Objects left out of the Cluster because they are invalid. */
  readonly invalidObjects: number;
  /** Clusters handed on, the last one's time and how long assembling it took. */
  readonly clusters: number;
  readonly lastClusterAt?: string;
  readonly lastBuildMs?: number;
}

export interface KubernetesWatch {
  readonly close: () => void;
  readonly status: () => KubernetesSourceStatus;
}

/** The reflectors, the assembler and the pacing of Clusters. */
class KubernetesSource {
  private readonly client: KubeClient;
  private readonly assembler = new ClusterAssembler();
  private readonly reflectors: Reflector<Parsed>[];
  private readonly debounceMs: number;
  private pending?: { timer?: NodeJS.Timeout; immediate?: NodeJS.Immediate };
  private closed = false;
  private clusters = 0;
  private last?: { at: Date; ms: number };
  private lastFlush = -Infinity;
  private firstCluster: () => void = () => undefined;
  readonly first = new Promise<void>((resolve) => (this.firstCluster = resolve));

  constructor(
    private readonly config: KubeConfig,
    private readonly onCluster: (c: Cluster) => void,
    private readonly onError: (e: unknown) => void,
    opts: KubernetesWatchOptions,
  ) {
    this.client = new KubeClient(config);
    this.debounceMs = opts.debounceMs ?? 5;
    const sharer = new PartSharer();
    this.reflectors = RESOURCES.map((spec) =>
      newReflector(spec, this.client, opts, {
        onChange: (changes) => {
          this.assembler.apply(spec.kind, changes);
          // A relist that changed nothing (a resync) makes no new Cluster.
          if (changes.length > 0 || this.clusters === 0) this.changed();
        },
        onError,
        sharer,
      }),
    );
  }

  start(): void {
    for (const r of this.reflectors) r.start();
  }

  readonly close = (): void => {
    this.closed = true;
    clearTimeout(this.pending?.timer);
    clearImmediate(this.pending?.immediate);
    for (const r of this.reflectors) r.close();
    this.client.close();
  };

  readonly status = (): KubernetesSourceStatus => ({
    server: this.config.server.origin,
    origin: this.config.origin,
    synced: this.clusters > 0,
    resources: this.reflectors.map((r) => r.status()),
    invalidObjects: this.assembler.invalidObjects,
    clusters: this.clusters,
    ...(this.last ? { lastClusterAt: this.last.at.toISOString(), lastBuildMs: this.last.ms } : {}),
  });

  /** Nothing before every resource has listed; then at once, or debounceMs after the last Cluster. */
  private changed(): void {
    if (this.closed || this.pending || !this.reflectors.every((r) => r.isSynced)) return;
    const wait = this.lastFlush + this.debounceMs - performance.now();
    // After a quiet spell: once the events already read are applied (setImmediate).
    this.pending =
      wait > 0
        ? { timer: setTimeout(() => this.flush(), wait) }
        : { immediate: setImmediate(() => this.flush()) };
  }

  private flush(): void {
    this.pending = undefined;
    if (this.closed) return;
    const started = performance.now();
    const { cluster, newIssues } = this.assembler.build();
    this.last = { at: new Date(), ms: performance.now() - started };
    this.clusters++;
    if (newIssues.length > 0) this.onError(new WeftError(newIssues));
    try {
      this.onCluster(cluster);
    } catch (e) {
      this.onError(e);
    }
    this.lastFlush = performance.now();
    this.firstCluster();
  }
}

/**
 * Watches the cluster behind `config`; resolves once the first Cluster has
 * been handed on (unless `waitForSync: false`), and keeps going until close().
 */
export async function watchKubernetes(
  config: KubeConfig,
  onCluster: (c: Cluster) => void,
  onError: (e: unknown) => void,
  opts: KubernetesWatchOptions = {},
): Promise<KubernetesWatch> {
  const source = new KubernetesSource(config, onCluster, onError, opts);
  source.start();
  const handle = { close: source.close, status: source.status };
  if (opts.waitForSync === false) return handle;
  await untilFirst(source.first, opts.signal, source.close);
  return handle;
}

function newReflector(
  spec: ResourceSpec,
  client: KubeClient,
  opts: KubernetesWatchOptions,
  on: {
    onChange: (changes: readonly Change<Parsed>[]) => void;
    onError: (e: unknown) => void;
    sharer: PartSharer;
  },
): Reflector<Parsed> {
  return new Reflector<Parsed>({
    client,
    resource: spec,
    convert: (raw) => {
      const parsed = parseApiObject(spec, raw, on.sharer);
      // Once per object and resourceVersion: the reflector keeps what this returns.
      if (parsed.issues.length > 0) on.onError(new WeftError(parsed.issues));
      return parsed;
    },
    onChange: on.onChange,
    onError: on.onError,
    onAbsent: (e) =>
      on.onError(
        new KubeError(
          ErrorCodes.KUBE_ABSENT,
          `${spec.name}: ${spec.path} is not served (${e.message}); treating ${spec.kind}s as none ` +
            `and looking again every ${Math.round((opts.absentRetryMs ?? 60_000) / 1000)} s ` +
            `(fix: install the network-policy-api CRDs for ${spec.apiVersion} if you use them)`,
          e.status,
          e.reason,
        ),
      ),
    ...pick(opts),
  });
}

function pick(o: KubernetesWatchOptions) {
  return {
    ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
    ...(o.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: o.watchTimeoutSeconds } : {}),
    ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
    ...(o.resyncMs !== undefined ? { resyncMs: o.resyncMs } : {}),
    ...(o.backoff !== undefined ? { backoff: o.backoff } : {}),
    ...(o.absentRetryMs !== undefined ? { absentRetryMs: o.absentRetryMs } : {}),
    ...(o.random !== undefined ? { random: o.random } : {}),
  };
}

/** Waits for the first Cluster; an abort stops everything and rejects. */
async function untilFirst(
  first: Promise<void>,
  signal: AbortSignal | undefined,
  close: () => void,
) {
  if (!signal) return first;
  if (signal.aborted) {
    close();
    throw signal.reason;
  }
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      close();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([first, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
