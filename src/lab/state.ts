import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CniVersion } from '../core/cni/result.js';
import { ErrorCodes, WeftError } from '../core/errors.js';

/** Where labs live: one directory per lab name. */
export function labRoot(): string {
  return process.env['WEFT_LAB_ROOT'] ?? '/run/weft-lab';
}

export const NODE_SUBNET_PREFIX = '192.168.220.';
/** The underlay's subnet: nodes at .11 and up, the external host at .200. */
export const UNDERLAY_SUBNET = `${NODE_SUBNET_PREFIX}0/24`;
/** The underlay's bridge, in the underlay's namespace: every frame between nodes crosses it. */
export const UNDERLAY_BRIDGE = 'br0';
/** The nodes' pod CIDRs are /24s of this (node-i: 10.244.i.0/24). */
export const POD_RANGE = '10.244.0.0/16';

export interface LabNode {
  readonly name: string;
  readonly netns: string;
  readonly address: string;
  readonly podCidr: string;
  readonly socket: string;
  readonly stateDir: string;
  readonly log: string;
  agentPid?: number;
}

export interface LabPod {
  /** `namespace/name` */
  readonly key: string;
  readonly node: string;
  readonly netns: string;
  readonly containerId: string;
  readonly hostNetwork: boolean;
  readonly ips: readonly string[];
  readonly control: string;
  readonly ports: readonly { readonly port: number; readonly protocol: 'TCP' | 'UDP' | 'SCTP' }[];
  serverPid?: number;
}

/** A host on the underlay that is not a node: a laptop on the LAN. */
export interface LabExternal {
  readonly netns: string;
  /** Its eth0 address, on the underlay subnet. */
  readonly address: string;
  /** Where Services are reached from outside (externalIPs, LoadBalancer addresses). */
  readonly cidr: string;
  /** The node the external host routes `cidr` through, and that node's address. */
  readonly via: string;
  readonly viaAddress: string;
}

export interface LabState {
  readonly name: string;
  readonly routing: 'vxlan' | 'host-gw';
  /** The newest CNI result version the lab's runtime reads (1.0.0: as containerd 1.6/1.7). */
  readonly runtimeCniVersion: CniVersion;
  /** The underlay's network namespace (its bridge is UNDERLAY_BRIDGE). */
  readonly underlay: string;
  /** Absent in labs brought up before weft had one. */
  readonly external?: LabExternal;
  readonly nodes: LabNode[];
  pods: Record<string, LabPod>;
}

/** The node named `name`; a WeftError naming the lab's nodes when there is none. */
export function labNode(state: LabState, name: string): LabNode {
  const node = state.nodes.find((n) => n.name === name);
  if (node) return node;
  throw WeftError.of({
    code: ErrorCodes.NOT_FOUND,
    object: `node ${name}`,
    field: '',
    message: `is not a node of lab ${state.name}`,
    fix: `name one of: ${state.nodes.map((n) => n.name).join(', ')}`,
  });
}

/** The files of one lab. */
export class LabPaths {
  readonly dir: string;
  constructor(readonly name: string) {
    this.dir = join(labRoot(), name);
  }
  get state(): string {
    return join(this.dir, 'state.json');
  }
  get manifests(): string {
    return join(this.dir, 'manifests');
  }
  get lock(): string {
    return join(this.dir, 'lock');
  }
  node(name: string): string {
    return join(this.dir, 'nodes', name);
  }
  /** The node's CNI config directory, where weft's install step writes its conflist. */
  nodeCniConfDir(name: string): string {
    return join(this.node(name), 'net.d');
  }
  /** CNI_PATH's first directory: weft's plugin, as install-cni puts it on a node. */
  get cniBin(): string {
    return join(this.dir, 'cni-bin');
  }
  pod(key: string): string {
    return join(this.dir, 'pods', key.replace('/', '_'));
  }
  /** Network namespace names all start with this, so `down` finds them even without state. */
  get netnsPrefix(): string {
    return `wl-${this.name}-`;
  }
}

export async function readState(p: LabPaths): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(p.state, 'utf8')) as LabState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function writeState(p: LabPaths, s: LabState): Promise<void> {
  await mkdir(p.dir, { recursive: true });
  const tmp = `${p.state}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(s, null, 2), { mode: 0o600 });
  await rename(tmp, p.state);
}

/** One lab command at a time: an exclusive lock file naming its holder; a dead holder's lock is taken over. */
export async function withLock<T>(p: LabPaths, fn: () => Promise<T>): Promise<T> {
  await mkdir(p.dir, { recursive: true });
  await acquire(p);
  try {
    return await fn();
  } finally {
    await rm(p.lock, { force: true });
  }
}

async function acquire(p: LabPaths): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(p.lock, String(process.pid), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number(await readFile(p.lock, 'utf8').catch(() => '0'));
    if (holder > 0 && alive(holder)) {
      throw new Error(`lab ${p.name} is busy: another weft lab command (pid ${holder}) is running`);
    }
    await rm(p.lock, { force: true });
  }
  throw new Error(`could not lock lab ${p.name}`);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
