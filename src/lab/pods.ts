import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../host/exec.js';
import { CONFLIST_FILE } from '../core/cni/conflist.js';
import type { JsonObject } from '../core/cni/json-fields.js';
import type { RuntimeProfile } from '../core/cni/runtime-view.js';
import { podKey, type Pod } from '../core/model/types.js';
import { LabCniRuntime, type Attachment } from './cni-runtime.js';
import { spawnDetached, waitFor, WEFT_BIN, WEFT_CNI } from './infra.js';
import { podServerHealth } from './probe-client.js';
import { alive, type LabNode, type LabPaths, type LabPod } from './state.js';

/** Where each new pod runs: its spec.nodeName, else the node with the fewest pods (first on ties). */
export function schedule(
  pods: readonly Pod[],
  nodes: readonly LabNode[],
  existing: readonly LabPod[],
): Map<string, LabNode> {
  const load = new Map(
    nodes.map((n) => [n.name, existing.filter((p) => p.node === n.name).length]),
  );
  const out = new Map<string, LabNode>();
  for (const pod of pods) {
    let node: LabNode | undefined;
    if (pod.nodeName !== undefined) {
      node = nodes.find((n) => n.name === pod.nodeName);
      if (!node) {
        throw new Error(
          `Pod ${podKey(pod)}: spec.nodeName ${pod.nodeName} is not a node of this lab (nodes: ${nodes.map((n) => n.name).join(', ')})`,
        );
      }
    } else {
      node = [...nodes].sort((a, b) => (load.get(a.name) ?? 0) - (load.get(b.name) ?? 0))[0];
    }
    if (!node) throw new Error('the lab has no nodes');
    load.set(node.name, (load.get(node.name) ?? 0) + 1);
    out.set(podKey(pod), node);
  }
  return out;
}

/** The node's CNI runtime: its conflist, weft's plugin directory, and the profile the lab plays. */
export function nodeRuntime(p: LabPaths, node: LabNode, profile: RuntimeProfile): LabCniRuntime {
  return new LabCniRuntime({
    conflist: join(p.nodeCniConfDir(node.name), CONFLIST_FILE),
    binDirs: [p.cniBin, ...DEBIAN_CNI_DIRS],
    cacheDir: join(p.node(node.name), 'cni-cache'),
    profile,
  });
}

/** Where Debian's containernetworking-plugins and a manual install put plugins, for chains. */
const DEBIAN_CNI_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

/** weft's plugin directory: `weft` is the bundled weft-cni, as the install-cni step puts it. */
export async function installCniBin(p: LabPaths): Promise<void> {
  await mkdir(p.cniBin, { recursive: true });
  await rm(join(p.cniBin, 'weft'), { force: true });
  await symlink(WEFT_CNI, join(p.cniBin, 'weft'));
}

function attachment(pod: LabPodIdentity): Attachment {
  return {
    containerId: pod.containerId,
    netns: `/var/run/netns/${pod.netns}`,
    ifname: 'eth0',
    args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: pod.namespace, K8S_POD_NAME: pod.name },
  };
}

function ipsOf(result: JsonObject): string[] {
  const ips = Array.isArray(result['ips']) ? (result['ips'] as { address?: unknown }[]) : [];
  return ips.map((i) => String(i.address).split('/')[0] as string);
}

interface LabPodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly netns: string;
  readonly containerId: string;
}

export function podNetns(p: LabPaths, pod: Pod): string {
  return `${p.netnsPrefix}pod-${pod.namespace}-${pod.name}`;
}

/** A pod: its namespace, its network from weft-cni through the node's agent, its server. */
export async function startPod(
  p: LabPaths,
  node: LabNode,
  pod: Pod,
  runtime: LabCniRuntime,
): Promise<LabPod> {
  const key = podKey(pod);
  const dir = p.pod(key);
  mkdirSync(dir, { recursive: true });
  const containerId = `lab${createHash('sha256').update(`${key}/${Date.now()}/${Math.random()}`).digest('hex').slice(0, 24)}`;
  const ports = pod.ports.map((c) => ({ port: c.port, protocol: c.protocol }));
  const base = {
    key,
    node: node.name,
    containerId,
    hostNetwork: pod.hostNetwork,
    control: join(dir, 'control.sock'),
    ports,
  };
  let lp: LabPod;
  if (pod.hostNetwork) {
    lp = { ...base, netns: node.netns, ips: [node.address] };
  } else {
    const netns = podNetns(p, pod);
    const id = { namespace: pod.namespace, name: pod.name, netns, containerId };
    await run('ip', ['netns', 'add', netns]);
    try {
      const r = await runtime.add(attachment(id));
      lp = { ...base, netns, ips: ipsOf(r) };
    } catch (e) {
      // As a runtime does after a failed ADD: DEL, then the namespace goes.
      await runtime.del(attachment(id)).catch(() => undefined);
      await run('ip', ['netns', 'del', netns]).catch(() => undefined);
      throw new Error(`CNI ADD for ${key} on ${node.name}: ${(e as Error).message}`);
    }
  }
  lp.serverPid = startServer(lp, podHostname(pod, node), join(dir, 'server.log'));
  await waitFor(
    `pod server of ${key}`,
    () =>
      podServerHealth(lp.control, 1000).then(
        () => true,
        () => false,
      ),
    15_000,
    `see ${join(dir, 'server.log')}`,
  );
  return lp;
}

/**
 * The hostname a pod's containers see, as the kubelet sets it: the pod's name,
 * cut to 63 characters without a trailing dash or dot; with hostNetwork, the
 * node's.
 */
export function podHostname(
  pod: Pick<Pod, 'name' | 'hostNetwork'>,
  node: Pick<LabNode, 'name'>,
): string {
  if (pod.hostNetwork) return node.name;
  return pod.name.length > 63 ? pod.name.slice(0, 63).replace(/[-.]+$/, '') : pod.name;
}

function startServer(lp: LabPod, hostname: string, log: string): number {
  const ports = lp.ports.flatMap((x) => ['--port', `${x.port}/${x.protocol}`]);
  return spawnDetached(
    lp.netns,
    [WEFT_BIN, 'lab', 'pod-server', '--control', lp.control, '--hostname', hostname, ...ports],
    log,
  );
}

/** Stops the server, gives the address back through CNI DEL, removes the namespace. */
export async function stopPod(lp: LabPod, runtime: LabCniRuntime | undefined): Promise<void> {
  if (lp.serverPid && alive(lp.serverPid)) process.kill(lp.serverPid, 'SIGTERM');
  if (lp.hostNetwork) return;
  const [namespace, name] = lp.key.split('/') as [string, string];
  if (runtime) {
    try {
      await runtime.del(
        attachment({ namespace, name, netns: lp.netns, containerId: lp.containerId }),
      );
    } catch (e) {
      throw new Error(`CNI DEL for ${lp.key} on ${lp.node}: ${(e as Error).message}`);
    }
  }
  await run('ip', ['netns', 'del', lp.netns]).catch(() => undefined);
}
