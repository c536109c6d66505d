import { randomInt } from 'node:crypto';
import { parseIp } from '../../core/net/ip.js';
import type { IpAddr } from '../../core/net/types.js';
import { podKey, type Cluster, type Pod } from '../../core/model/types.js';
import { PolicyCompiler } from '../../core/policy/compile.js';
import type { PolicyIr } from '../../core/policy/ir.js';
import type { DropLogOptions } from './drop-log.js';
import type { NftTable } from '../../nft/model.js';
import { renderTable } from './render.js';
import type { NftRunner } from '../../nft/runner.js';
import { TableSync } from '../../nft/sync.js';
import { Coalesced } from '../coalesce.js';
import type { SyncReport, SyncResult, TableCounts } from '../../api/types.js';

/** What the dataplane needs of one of this node's endpoints (the agent's EndpointRecord has it). */
export interface LocalEndpoint {
  /** The pod the CNI ADD was for, when known. */
  readonly pod?: { readonly namespace: string; readonly name: string };
  /** Its addresses as the CNI gave them, `IP/PREFIX`. */
  readonly addresses: readonly string[];
}

/** After a failed sync, the next (full) one is tried this much later even if nothing changes. */
const RETRY_MS = 1000;

export interface DataplaneOptions {
  /** Log drops to NFLOG (flow observability). */
  readonly logDrops?: DropLogOptions;
  /** Called after every sync attempt (an `error` when it failed). */
  readonly onSync?: (r: SyncResult & { readonly error?: string }) => void;
  /** Called as a sync starts; what it returns, as the sync ends (the flow pipeline waits meanwhile). */
  readonly hold?: () => () => void;
}

export function tableCounts(table: NftTable, ir: PolicyIr, local: number): TableCounts {
  let rules = 0;
  let setElements = 0;
  for (const c of table.chains.values()) rules += c.rules.length;
  for (const s of table.sets.values()) setElements += s.elements.length;
  for (const m of table.maps.values()) setElements += m.elements.length;
  return {
    endpoints: local,
    policies: ir.policies.size,
    chains: table.chains.size,
    rules,
    sets: table.sets.size + table.maps.size,
    setElements,
  };
}

/**
 * The policy component of one node, on its own table (POLICY_TABLE): the cluster (from the source) plus this
 * node's endpoints (from its own CNI ADDs) → IR → nftables, one atomic
 * transaction per change. Requests made while a sync runs are folded into
 * one more sync, and every caller's promise settles once its change is in
 * the kernel.
 */
export class PolicyDataplane {
  private readonly table: TableSync;
  private readonly compiler = new PolicyCompiler();
  private readonly localPods = new LocalPods();
  private readonly syncs = new Coalesced(() => this.run());
  ir: PolicyIr | undefined;
  /**
   * The policy generation (1..65535), new with every sync; it starts at a
   * random value so that connections marked by an earlier agent are evaluated
   * again under this one's rules.
   */
  private generation = 1 + randomInt(65535);
  last: SyncReport | undefined;
  counts: TableCounts | undefined;

  constructor(
    runner: NftRunner,
    private readonly nodeName: string,
    private readonly state: () => {
      cluster: Cluster | undefined;
      endpoints: readonly LocalEndpoint[];
    },
    private readonly log: (line: string) => void,
    private readonly options: DataplaneOptions = {},
  ) {
    this.table = new TableSync(runner);
  }

  /** Resolves when the kernel holds the policy for everything known at the time of the call. */
  sync(): Promise<SyncResult> {
    return this.syncs.request();
  }

  private async run(): Promise<SyncResult> {
    const t0 = performance.now();
    const { cluster, endpoints } = this.state();
    if (!cluster) return { kind: 'noop', ms: 0 };
    const release = this.options.hold?.();
    try {
      const merged = this.localPods.merge(cluster, this.nodeName, endpoints);
      const local = new Set(
        endpoints.flatMap((e) => (e.pod ? [`${e.pod.namespace}/${e.pod.name}`] : [])),
      );
      // Only the policies that select this node's pods are compiled, and
      // unchanged ones are reused from the last sync.
      const ir = this.compiler.compile(merged, (p) => local.has(podKey(p)));
      // A new generation only when the rules change: then every connection is
      // evaluated again under them. A table that differs only in the forward
      // chain (the generation) is not applied, and the generation stays.
      const candidate = (this.generation % 65535) + 1;
      const table = renderTable(ir, local, candidate, { logDrops: this.options.logDrops });
      const applied = await this.table.apply(table, 'forward');
      if (applied.kind !== 'noop') this.generation = candidate;
      this.ir = ir;
      this.counts = tableCounts(table, ir, local.size);
      const result = { kind: applied.kind, ms: performance.now() - t0 };
      this.last = { ...result, at: new Date().toISOString() };
      this.options.onSync?.(result);
      if (applied.kind !== 'noop')
        this.log(
          `policy: ${applied.kind} sync in ${result.ms.toFixed(1)} ms (${applied.bytes} bytes)`,
        );
      return result;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.last = { kind: 'full', ms: performance.now() - t0, at: new Date().toISOString(), error };
      this.options.onSync?.({ kind: 'full', ms: this.last.ms, error });
      this.log(`policy: sync failed, retrying in ${RETRY_MS} ms with a full sync: ${error}`);
      setTimeout(() => void this.sync().catch(() => undefined), RETRY_MS).unref();
      throw e;
    } finally {
      release?.();
    }
  }
}

/**
 * withLocalEndpoints, keeping the same Pod objects while neither the source's
 * pod nor its addresses change, so the compiler can tell nothing changed.
 */
class LocalPods {
  private readonly memo = new Map<string, { from: Pod; ips: string; pod: Pod }>();

  merge(cluster: Cluster, nodeName: string, endpoints: readonly LocalEndpoint[]): Cluster {
    const fresh = withLocalEndpoints(cluster, nodeName, endpoints);
    if (fresh === cluster) return cluster;
    const seen = new Set<string>();
    const pods = fresh.pods.map((p, i) => {
      const from = cluster.pods[i] as Pod;
      if (p === from) return p;
      const key = podKey(p);
      seen.add(key);
      const ips = p.ips.map((a) => `${a.family}:${a.value}`).join(',');
      const hit = this.memo.get(key);
      if (hit && hit.from === from && hit.ips === ips && hit.pod.nodeName === p.nodeName)
        return hit.pod;
      this.memo.set(key, { from, ips, pod: p });
      return p;
    });
    for (const key of this.memo.keys()) if (!seen.has(key)) this.memo.delete(key);
    return { ...fresh, pods };
  }
}

/** The cluster as this node knows it best: its own pods carry the addresses its CNI gave them. */
export function withLocalEndpoints(
  cluster: Cluster,
  nodeName: string,
  endpoints: readonly LocalEndpoint[],
): Cluster {
  const byPod = new Map<string, IpAddr[]>();
  for (const e of endpoints) {
    if (!e.pod) continue;
    const ips = e.addresses
      .map((a) => parseIp(a.split('/')[0] as string))
      .filter((x): x is IpAddr => x !== undefined);
    byPod.set(`${e.pod.namespace}/${e.pod.name}`, ips);
  }
  if (byPod.size === 0) return cluster;
  return {
    ...cluster,
    pods: cluster.pods.map((p) => {
      const ips = byPod.get(podKey(p));
      return ips ? { ...p, nodeName, ips } : p;
    }),
  };
}
