import { WeftError } from '../../core/errors.js';
import type { Cluster } from '../../core/model/types.js';
import { ClusterAssembler, parseApiObject, type Parsed } from './assemble.js';
import { KubeClient } from './client.js';
import type { KubeConfig } from './config.js';
import { KubeError, KubeErrorCodes } from './errors.js';
import { Reflector, type Change, type ReflectorStatus } from './reflector.js';
import { RESOURCES, type ResourceSpec } from './resources.js';

/**
 * The Kubernetes API source: one reflector per resource (Namespaces, Pods,
 * Nodes, NetworkPolicies, ClusterNetworkPolicies), their objects projected
 * and parsed as they arrive, a Cluster handed on once every resource has
 * listed, then after every change (bursts coalesced over `debounceMs`).
 * An invalid object is reported (object, field, fix) and left out; the rest
 * of the cluster goes on. Same shape as watchManifests.
 */

export interface KubernetesWatchOptions {
  /** Changes within this window after the first make one Cluster (default 5 ms). */
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

export async function watchKubernetes(
  config: KubeConfig,
  onCluster: (c: Cluster) => void,
  onError: (e: unknown) => void,
  opts: KubernetesWatchOptions = {},
): Promise<KubernetesWatch> {
  const client = new KubeClient(config);
  const assembler = new ClusterAssembler();
  const debounceMs = opts.debounceMs ?? 5;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let clusters = 0;
  let last: { at: Date; ms: number } | undefined;
  let firstCluster: () => void = () => undefined;
  const first = new Promise<void>((resolve) => (firstCluster = resolve));

  const flush = () => {
    timer = undefined;
    if (closed) return;
    const started = performance.now();
    const { cluster, newIssues } = assembler.build();
    last = { at: new Date(), ms: performance.now() - started };
    clusters++;
    if (newIssues.length > 0) onError(new WeftError(newIssues));
    try {
      onCluster(cluster);
    } catch (e) {
      onError(e);
    }
    firstCluster();
  };
  const changed = () => {
    if (closed || timer || !reflectors.every((r) => r.isSynced)) return;
    timer = setTimeout(flush, debounceMs);
  };
  const reflectors = RESOURCES.map((spec) =>
    newReflector(spec, client, opts, {
      onChange: (changes) => {
        assembler.apply(spec.kind, changes);
        changed();
      },
      onError,
    }),
  );
  const close = () => {
    closed = true;
    clearTimeout(timer);
    for (const r of reflectors) r.close();
    client.close();
  };
  const status = (): KubernetesSourceStatus => ({
    server: config.server.origin,
    origin: config.origin,
    synced: clusters > 0,
    resources: reflectors.map((r) => r.status()),
    invalidObjects: assembler.invalidObjects,
    clusters,
    ...(last ? { lastClusterAt: last.at.toISOString(), lastBuildMs: last.ms } : {}),
  });
  for (const r of reflectors) r.start();
  if (opts.waitForSync === false) return { close, status };
  await untilFirst(first, opts.signal, close);
  return { close, status };
}

function newReflector(
  spec: ResourceSpec,
  client: KubeClient,
  opts: KubernetesWatchOptions,
  on: {
    onChange: (changes: readonly Change<Parsed>[]) => void;
    onError: (e: unknown) => void;
  },
): Reflector<Parsed> {
  return new Reflector<Parsed>({
    client,
    resource: spec,
    convert: (raw) => {
      const parsed = parseApiObject(spec, raw);
      // Once per object and resourceVersion: the reflector keeps what this returns.
      if (parsed.issues.length > 0) on.onError(new WeftError(parsed.issues));
      return parsed;
    },
    onChange: on.onChange,
    onError: on.onError,
    onAbsent: (e) =>
      on.onError(
        new KubeError(
          KubeErrorCodes.ABSENT,
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
