import { mkdir, rm } from 'node:fs/promises';
import { AgentRoutes } from '../api/routes.js';
import { askLabAgent } from './agents.js';
import { run } from '../host/exec.js';
import { loadManifests } from '../sources/manifests/load.js';
import { parseObject } from '../core/model/parse.js';
import { NodeAnnotation } from '../core/model/node-annotations.js';
import { podKey, type Cluster, type Pod } from '../core/model/types.js';
import { ErrorCodes, WeftError } from '../core/errors.js';
import {
  createNode,
  createUnderlay,
  labObserveUrl,
  listNetns,
  nodeName,
  pidsIn,
  startAgent,
  waitFor,
} from './infra.js';
import {
  checkExternal,
  createExternal,
  DEFAULT_EXTERNAL,
  type ExternalOptions,
} from './external.js';
import {
  NAMESPACED_KINDS,
  ObjectStore,
  objectId,
  readObjects,
  withPlacement,
  type StoredObject,
} from './objects.js';
import { installCniBin, nodeRuntime, schedule, startPod, stopPod } from './pods.js';
import type { LabCniRuntime } from './cni-runtime.js';
import { CURRENT_VERSION, type CniVersion } from '../core/cni/result.js';
import { main as installCniConf } from '../deploy/cni-conf.js';
import {
  LabPaths,
  alive,
  labNode,
  readState,
  withLock,
  writeState,
  type LabNode,
  type LabPod,
  type LabState,
} from './state.js';

export type Progress = (line: string) => void;

export interface UpOptions {
  readonly nodes: number;
  readonly files: readonly string[];
  readonly routing: 'vxlan' | 'host-gw';
  /** The newest CNI result version the lab's runtime reads; 1.1.0 when absent. */
  readonly runtimeCniVersion?: CniVersion;
  /** The external host's route to the external range; DEFAULT_EXTERNAL when absent. */
  readonly external?: ExternalOptions;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** One lab: a cluster of network namespaces, driven through its manifests directory. */
export class Lab {
  readonly paths: LabPaths;
  private readonly store: ObjectStore;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly progress: Progress,
  ) {
    this.paths = new LabPaths(name);
    this.store = new ObjectStore(this.paths.manifests);
  }

  /** Writes the state file; writes from parallel pod start-ups are queued, each one complete. */
  private save(state: LabState): Promise<void> {
    this.saving = this.saving.then(() => writeState(this.paths, state));
    return this.saving;
  }

  async state(): Promise<LabState> {
    const s = await readState(this.paths);
    if (!s)
      throw WeftError.of({
        code: ErrorCodes.NOT_FOUND,
        object: `lab ${this.name}`,
        field: '',
        message: 'is not up',
        fix: `start it with: weft lab up --name ${this.name}`,
      });
    return s;
  }

  up(o: UpOptions): Promise<LabState> {
    return withLock(this.paths, async () => {
      if (await readState(this.paths)) {
        throw new Error(
          `lab ${this.name} is already up; run \`weft lab down --name ${this.name}\` first`,
        );
      }
      // Validate everything before changing anything.
      const names = Array.from({ length: o.nodes }, (_, i) => nodeName(i + 1));
      const externalOptions = checkExternal(o.external ?? DEFAULT_EXTERNAL, names);
      if (o.files.length) await loadManifests(o.files);
      const objects = o.files.length ? await readObjects(o.files) : [];
      const t0 = Date.now();
      await mkdir(this.paths.manifests, { recursive: true });
      const underlay = `${this.paths.netnsPrefix}net`;
      await createUnderlay(underlay);
      const nodes: LabNode[] = [];
      for (let i = 1; i <= o.nodes; i++) nodes.push(await createNode(this.paths, underlay, i));
      for (const n of nodes) await this.store.put(nodeObject(n));
      const via = nodes.find((n) => n.name === externalOptions.via) as LabNode;
      const external = await createExternal(this.paths, underlay, externalOptions, via);
      this.progress(
        `  external host: ${external.address} (${external.netns}), ${external.cidr} via ${via.name}`,
      );
      const state: LabState = {
        name: this.name,
        routing: o.routing,
        runtimeCniVersion: o.runtimeCniVersion ?? CURRENT_VERSION,
        underlay,
        external,
        nodes,
        pods: {},
      };
      await installCniBin(this.paths);
      for (const n of nodes) n.agentPid = startAgent(this.paths, n, o.routing);
      await this.save(state);
      await Promise.all(nodes.map((n) => this.waitAgent(n)));
      await Promise.all(nodes.map((n) => this.installCniConfig(n)));
      this.progress(
        `${nodes.length} nodes up, agents ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      );
      await this.applyObjects(state, objects);
      this.progress(
        `lab ${this.name} is up: ${nodes.length} nodes, ${Object.keys(state.pods).length} pods (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      );
      return state;
    });
  }

  private async waitAgent(n: LabNode): Promise<void> {
    await waitFor(
      `the agent of ${n.name}`,
      async () => (await askLabAgent(n, AgentRoutes.status))?.ready === true,
      20_000,
      `see ${n.log}`,
    );
    this.progress(`  ${n.name}: agent ready (${n.address}, pods ${n.podCidr})`);
  }

  /** The conflist, written by weft's own install step once the agent is ready, as on a real node. */
  private async installCniConfig(n: LabNode): Promise<void> {
    const dir = this.paths.nodeCniConfDir(n.name);
    await mkdir(dir, { recursive: true });
    const lines: string[] = [];
    const args = ['install', '--conf-dir', dir, '--socket', n.socket, '--timeout-seconds', '20'];
    if ((await installCniConf(args, (l) => lines.push(l))) !== 0)
      throw new Error(`${n.name}: writing the CNI config failed: ${lines.join('; ')}`);
  }

  private runtime(state: LabState, node: LabNode): LabCniRuntime {
    return nodeRuntime(this.paths, node, { highest: state.runtimeCniVersion ?? CURRENT_VERSION });
  }

  apply(files: readonly string[]): Promise<LabState> {
    return withLock(this.paths, async () => {
      await loadManifests(files);
      const state = await this.state();
      await this.applyObjects(state, await readObjects(files));
      return state;
    });
  }

  /** Writes objects into the manifests directory; pods come up (or are replaced) through CNI. */
  private async applyObjects(state: LabState, objects: readonly StoredObject[]): Promise<void> {
    const pods = objects.filter((o) => o.kind === 'Pod');
    for (const o of objects.filter((x) => x.kind !== 'Pod')) await this.store.put(o);
    if (pods.length === 0) return;
    const toStart: { obj: StoredObject; pod: Pod }[] = [];
    for (const obj of pods) {
      // Already validated with the files they came from.
      const pod = parseObject(obj.raw).object;
      if (pod?.kind !== 'Pod') continue;
      const running = state.pods[podKey(pod)];
      if (running && samePlacement(running, pod)) {
        await this.store.put({ ...obj, raw: withPlacement(obj.raw, running.node, running.ips) });
        continue;
      }
      if (running) await this.removePod(state, running);
      toStart.push({ obj, pod });
    }
    const where = schedule(
      toStart.map((x) => x.pod),
      state.nodes,
      Object.values(state.pods),
    );
    // The Pod objects exist before their CNI ADD, as in Kubernetes: the agent
    // needs a pod's labels to put its policy in place before ADD returns.
    for (const { obj, pod } of toStart) {
      await this.store.put({
        ...obj,
        raw: withPlacement(obj.raw, (where.get(podKey(pod)) as LabNode).name, []),
      });
    }
    let done = 0;
    await pool(toStart, 8, async ({ obj, pod }) => {
      const node = where.get(podKey(pod)) as LabNode;
      const lp = await startPod(this.paths, node, pod, this.runtime(state, node));
      state.pods[lp.key] = lp;
      await this.store.put({ ...obj, raw: withPlacement(obj.raw, node.name, lp.ips) });
      await this.save(state);
      this.progress(
        `  pod ${lp.key} on ${node.name}: ${lp.ips.join(', ')} (${++done}/${toStart.length})`,
      );
    });
  }

  delete(targets: { files?: readonly string[]; ids?: readonly string[] }): Promise<string[]> {
    return withLock(this.paths, async () => {
      const state = await this.state();
      const ids: { kind: string; namespace?: string; name: string }[] = [];
      if (targets.files?.length) ids.push(...(await readObjects(targets.files)));
      for (const id of targets.ids ?? []) ids.push(parseId(id));
      const removed: string[] = [];
      for (const id of ids) {
        if (id.kind === 'Pod') {
          const lp = state.pods[`${id.namespace}/${id.name}`];
          if (lp) await this.removePod(state, lp);
        }
        if (await this.store.remove(id)) removed.push(objectId(id));
      }
      await this.save(state);
      return removed;
    });
  }

  private async removePod(state: LabState, lp: LabPod): Promise<void> {
    const node = state.nodes.find((n) => n.name === lp.node);
    await stopPod(lp, node && this.runtime(state, node));
    delete state.pods[lp.key];
    await this.save(state);
    this.progress(`  pod ${lp.key} removed`);
  }

  /** Stops a node's agent (SIGTERM, as an upgrade would) and starts it again. */
  restartAgent(name: string): Promise<void> {
    return withLock(this.paths, async () => {
      const state = await this.state();
      const node = labNode(state, name);
      const pid = node.agentPid;
      if (pid && alive(pid)) {
        process.kill(pid, 'SIGTERM');
        await waitFor(
          `the agent of ${node.name} to stop`,
          async () => !alive(pid),
          10_000,
          `kill -9 ${pid}`,
        );
      }
      node.agentPid = startAgent(this.paths, node, state.routing);
      await this.save(state);
      await this.waitAgent(node);
    });
  }

  async cluster(): Promise<Cluster> {
    return (await loadManifests([this.paths.manifests])).cluster;
  }

  /** Removes every namespace, process and file of the lab — also when its state is lost or half-written. */
  async down(): Promise<{ namespaces: number; processes: number }> {
    const s = await readState(this.paths).catch(() => undefined);
    const pids = new Set<number>();
    for (const n of s?.nodes ?? []) if (n.agentPid) pids.add(n.agentPid);
    for (const p of Object.values(s?.pods ?? {})) if (p.serverPid) pids.add(p.serverPid);
    const namespaces = await listNetns(this.paths.netnsPrefix);
    for (const ns of namespaces) for (const pid of await pidsIn(ns)) pids.add(pid);
    let processes = 0;
    for (const pid of pids) {
      if (!alive(pid)) continue;
      process.kill(pid, 'SIGKILL');
      processes++;
    }
    for (const pid of pids)
      await waitFor(`process ${pid} to exit`, async () => !alive(pid), 5000, 'kill -9 it');
    const order = [...namespaces].sort((a, b) => rank(a) - rank(b));
    for (const ns of order) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    await rm(this.paths.dir, { recursive: true, force: true });
    return { namespaces: namespaces.length, processes };
  }
}

/** Pods first, then nodes and the external host, then the underlay. */
function rank(ns: string): number {
  if (ns.includes('-pod-')) return 0;
  return ns.endsWith('-net') ? 2 : 1;
}

function samePlacement(lp: LabPod, pod: Pod): boolean {
  const ports = pod.ports.map((p) => `${p.port}/${p.protocol}`).join(',');
  return (
    lp.hostNetwork === pod.hostNetwork &&
    (pod.nodeName === undefined || pod.nodeName === lp.node) &&
    ports === lp.ports.map((p) => `${p.port}/${p.protocol}`).join(',')
  );
}

function nodeObject(n: LabNode): StoredObject {
  return {
    kind: 'Node',
    name: n.name,
    raw: {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: n.name,
        labels: { 'kubernetes.io/hostname': n.name },
        // What the node's agent would publish in a cluster: where its peers' UI reads its flows.
        annotations: { [NodeAnnotation.observeUrl]: labObserveUrl(n) },
      },
      spec: { podCIDR: n.podCidr, podCIDRs: [n.podCidr] },
      status: { addresses: [{ type: 'InternalIP', address: n.address }] },
    },
  };
}

/**
 * `Pod/ns/name`, `pod/ns/name`, `NetworkPolicy/ns/name`, `Service/ns/name`,
 * `EndpointSlice/ns/name`, `Namespace/name`, `ClusterNetworkPolicy/name`.
 */
export function parseId(text: string): { kind: string; namespace?: string; name: string } {
  const parts = text.split('/');
  const kinds: Record<string, string> = {
    pod: 'Pod',
    pods: 'Pod',
    networkpolicy: 'NetworkPolicy',
    netpol: 'NetworkPolicy',
    namespace: 'Namespace',
    ns: 'Namespace',
    clusternetworkpolicy: 'ClusterNetworkPolicy',
    cnp: 'ClusterNetworkPolicy',
    node: 'Node',
    service: 'Service',
    svc: 'Service',
    endpointslice: 'EndpointSlice',
  };
  const kind = kinds[(parts[0] ?? '').toLowerCase()];
  const namespaced = kind !== undefined && NAMESPACED_KINDS.has(kind);
  if (!kind || parts.length !== (namespaced ? 3 : 2) || parts.some((x) => x === '')) {
    throw new Error(
      `${text}: not KIND/NAMESPACE/NAME (pods, policies, services, endpointslices) or KIND/NAME (namespaces, cluster policies, nodes)`,
    );
  }
  return namespaced
    ? { kind, namespace: parts[1] as string, name: parts[2] as string }
    : { kind, name: parts[1] as string };
}
