import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from '../host/exec.js';
import { NODE_SUBNET_PREFIX, UNDERLAY_BRIDGE, type LabNode, type LabPaths } from './state.js';
import { join } from 'node:path';

export const WEFT_BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
export const WEFT_CNI = fileURLToPath(new URL('../weft-cni.js', import.meta.url));

/** Starts a process inside a namespace, detached from this command, output to `log`; returns its pid. */
export function spawnDetached(netns: string, args: readonly string[], log: string): number {
  const fd = openSync(log, 'a');
  try {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, ...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${args.join(' ')} in ${netns}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** The shared L2 segment: a bridge in its own namespace; nodes hang off it by veth. */
export async function createUnderlay(ns: string): Promise<void> {
  await run('ip', ['netns', 'add', ns]);
  await run(
    'ip',
    ['-n', ns, '-batch', '-'],
    `link set lo up\nlink add ${UNDERLAY_BRIDGE} type bridge\nlink set ${UNDERLAY_BRIDGE} up\n`,
  );
}

export function nodeName(i: number): string {
  return `node-${i}`;
}

/** A node namespace joined to the underlay: eth0 with 192.168.220.(10+i)/24. */
export async function createNode(p: LabPaths, underlay: string, i: number): Promise<LabNode> {
  const name = nodeName(i);
  const netns = `${p.netnsPrefix}${name}`;
  const address = `${NODE_SUBNET_PREFIX}${10 + i}`;
  const dir = p.node(name);
  mkdirSync(dir, { recursive: true });
  await run('ip', ['netns', 'add', netns]);
  await run('ip', [
    '-n',
    underlay,
    'link',
    'add',
    `n${i}`,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    netns,
  ]);
  await run(
    'ip',
    ['-n', underlay, '-batch', '-'],
    `link set n${i} master ${UNDERLAY_BRIDGE}\nlink set n${i} up\n`,
  );
  await run(
    'ip',
    ['-n', netns, '-batch', '-'],
    `link set lo up\nlink set eth0 up\naddr add ${address}/24 dev eth0\n`,
  );
  return {
    name,
    netns,
    address,
    podCidr: `10.244.${i}.0/24`,
    socket: join(dir, 'cni.sock'),
    stateDir: join(dir, 'state'),
    log: join(dir, 'agent.log'),
  };
}

/** The port of every lab agent's --observe listener (on its node address). */
export const LAB_OBSERVE_PORT = 9963;
/** The port of every lab agent's web UI (--ui, on its node address). */
export const LAB_UI_PORT = 9964;

/** The --observe URL a lab node's agent serves, as its Node's weft.dev/observe-url names it. */
export function labObserveUrl(node: { readonly address: string }): string {
  return `http://${node.address}:${LAB_OBSERVE_PORT}`;
}

export function startAgent(p: LabPaths, node: LabNode, routing: string): number {
  return spawnDetached(
    node.netns,
    [
      WEFT_BIN,
      'agent',
      ...['--node-name', node.name, '--pod-cidr', node.podCidr, '--routing', routing],
      ...[
        '--source',
        `manifests:${p.manifests}`,
        '--state-dir',
        node.stateDir,
        '--socket',
        node.socket,
        // The read-only views over the underlay, as agents serve them in a cluster.
        '--observe',
        `${node.address}:${LAB_OBSERVE_PORT}`,
        // The web UI, as an agent serves it in a cluster (peers from the Nodes).
        '--ui',
        `${node.address}:${LAB_UI_PORT}`,
      ],
    ],
    node.log,
  );
}

/** Polls until `ready()` holds, or throws after `ms` with `what` and a hint. */
export async function waitFor(
  what: string,
  ready: () => Promise<boolean>,
  ms: number,
  hint: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what} did not become ready within ${ms / 1000} s (${hint})`);
}

/** Every process inside a namespace (`ip netns pids`). */
export async function pidsIn(netns: string): Promise<number[]> {
  const out = await run('ip', ['netns', 'pids', netns]).catch(() => '');
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}

export async function listNetns(prefix: string): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']).catch(() => '');
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}
