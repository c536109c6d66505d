import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../agent/exec.js';
import { podKey, type Pod } from '../core/model/types.js';
import { getJson, spawnDetached, waitFor, WEFT_BIN, WEFT_CNI } from './infra.js';
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

interface CniResultJson {
  ips?: { address: string }[];
  code?: number;
  msg?: string;
  details?: string;
}

/** CNI ADD or DEL through the real weft-cni binary, as a container runtime calls it. */
export function cniExec(
  command: 'ADD' | 'DEL',
  node: LabNode,
  pod: LabPodIdentity,
): Promise<CniResultJson> {
  const env = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.containerId,
    CNI_NETNS: `/var/run/netns/${pod.netns}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name}`,
  };
  const conf = JSON.stringify({
    cniVersion: '1.1.0',
    name: 'weft',
    type: 'weft',
    agentSocket: node.socket,
  });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEFT_CNI], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const json = (out.trim() ? JSON.parse(out) : {}) as CniResultJson;
      if (code === 0) resolve(json);
      else
        reject(
          new Error(
            `CNI ${command} for ${pod.namespace}/${pod.name} on ${node.name} failed: ${json.msg ?? out} ${json.details ?? ''}`.trim(),
          ),
        );
    });
    child.stdin.end(conf);
  });
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
export async function startPod(p: LabPaths, node: LabNode, pod: Pod): Promise<LabPod> {
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
    await run('ip', ['netns', 'add', netns]);
    try {
      const r = await cniExec('ADD', node, {
        namespace: pod.namespace,
        name: pod.name,
        netns,
        containerId,
      });
      lp = { ...base, netns, ips: (r.ips ?? []).map((i) => i.address.split('/')[0] as string) };
    } catch (e) {
      await run('ip', ['netns', 'del', netns]).catch(() => undefined);
      throw e;
    }
  }
  lp.serverPid = startServer(lp, join(dir, 'server.log'));
  await waitFor(
    `pod server of ${key}`,
    async () => (await getJson<{ ok: boolean }>(lp.control, '/healthz')) !== undefined,
    15_000,
    `see ${join(dir, 'server.log')}`,
  );
  return lp;
}

function startServer(lp: LabPod, log: string): number {
  const ports = lp.ports.flatMap((x) => ['--port', `${x.port}/${x.protocol}`]);
  return spawnDetached(
    lp.netns,
    [WEFT_BIN, 'lab', 'pod-server', '--control', lp.control, ...ports],
    log,
  );
}

/** Stops the server, gives the address back through CNI DEL, removes the namespace. */
export async function stopPod(node: LabNode | undefined, lp: LabPod): Promise<void> {
  if (lp.serverPid && alive(lp.serverPid)) process.kill(lp.serverPid, 'SIGTERM');
  if (lp.hostNetwork) return;
  const [namespace, name] = lp.key.split('/') as [string, string];
  if (node)
    await cniExec('DEL', node, { namespace, name, netns: lp.netns, containerId: lp.containerId });
  await run('ip', ['netns', 'del', lp.netns]).catch(() => undefined);
}
