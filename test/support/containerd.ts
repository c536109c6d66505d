// A private containerd for one test, driven with Debian's ctr: its own root,
// state, sockets and config in a temp dir, in a mount namespace of its own;
// ctr runs in a lab node's network namespace with private mounts over the
// CNI dirs it cannot be told about. Nothing on the machine changes, and
// everything is stopped and removed at the end, pass or fail.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { repoRoot } from '../../src/testing/paths.js';
import {
  killQuietly,
  mustRun,
  runFor,
  sleep,
  stopChild,
  withPrivateMounts,
  type Exit,
} from './host.js';

export const INSTALL_COMMAND =
  'scripts/install.sh (apt-get install containerd runc containernetworking-plugins busybox-static iptables)';
/** Where Debian's containernetworking-plugins installs the plugins. */
export const DEBIAN_CNI_BIN = '/usr/lib/cni';
const BUSYBOX = '/bin/busybox';
const COMMANDS = [
  'containerd',
  'containerd-shim-runc-v2',
  'ctr',
  'runc',
  'unshare',
  'iptables-save',
  'tc',
];
const PLUGINS = ['portmap', 'bandwidth'];
/** The dirs ctr (libcni) reads and writes, fixed in containerd 1.6's ctr. */
const CNI_CONF_DIR = '/etc/cni/net.d';
const CNI_BIN_DIR = '/opt/cni/bin';
const CNI_CACHE_DIR = '/var/lib/cni';
/** containerd 1.6 puts shim sockets under /run/containerd/s whatever its state dir. */
const SHIM_SOCKET_ROOT = '/run/containerd';
const MACHINE_PATHS = [CNI_CONF_DIR, CNI_BIN_DIR, CNI_CACHE_DIR, SHIM_SOCKET_ROOT];

/**
 * What the machine shows of the paths the runtime would use: which exist, and
 * the mounts (in this process's namespace) on them or under `dir`.
 */
export function machineView(dir: string): { exists: Record<string, boolean>; mounts: string[] } {
  const exists = Object.fromEntries(MACHINE_PATHS.map((p) => [p, existsSync(p)]));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => {
      const point = l.split(' ')[4] ?? '';
      return [dir, ...MACHINE_PATHS].some((p) => point === p || point.startsWith(`${p}/`));
    });
  return { exists, mounts };
}

function onPath(cmd: string): boolean {
  return (process.env['PATH'] ?? '')
    .split(delimiter)
    .some((dir) => dir !== '' && existsSync(join(dir, cmd)));
}

/** Whether an ELF file asks for a program interpreter (a dynamically linked executable). */
function isDynamicElf(path: string): boolean {
  const b = readFileSync(path);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return true;
  return false;
}

/** What the containerd tests need and this machine lacks; empty when all is there. */
export function missingTools(): string[] {
  const missing = COMMANDS.filter((c) => !onPath(c));
  for (const p of PLUGINS)
    if (!existsSync(join(DEBIAN_CNI_BIN, p))) missing.push(join(DEBIAN_CNI_BIN, p));
  if (!existsSync(BUSYBOX)) missing.push(BUSYBOX);
  else if (isDynamicElf(BUSYBOX)) missing.push(`${BUSYBOX} statically linked (busybox-static)`);
  return missing;
}

/** A `ctr run` in the foreground: its output so far, and its exit. */
export class CtrRun {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private done = false;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      child.on('error', (e) => {
        this.stderr += String(e);
        this.done = true;
        resolve({ code: null, signal: null });
      });
      child.on('close', (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      });
    });
  }

  /** Resolves once stdout holds a line equal to `line`; fails if ctr exits first or `ms` pass. */
  async waitForLine(line: string, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!this.stdout.split('\n').includes(line)) {
      if (this.done) throw new Error(`ctr run exited before "${line}":\n${this.output()}`);
      if (Date.now() > end)
        throw new Error(`no "${line}" from ctr run within ${ms} ms:\n${this.output()}`);
      await sleep(50);
    }
  }

  /** Resolves with the exit, or fails once `ms` pass. */
  async exit(ms: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`ctr run still running after ${ms} ms:\n${this.output()}`)),
        ms,
      );
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  output(): string {
    return `stdout:\n${this.stdout}\nstderr:\n${this.stderr}`;
  }
}

export interface RunOptions {
  /** The network namespace ctr runs in: the lab node's, where the host veths live. */
  readonly netns: string;
  /** The container id (the CNI container id is `default-ID`). */
  readonly id: string;
  /** The conflist text ctr finds in /etc/cni/net.d. */
  readonly conflist: string;
  /** The container's command, run from a rootfs holding only /bin/busybox. */
  readonly command: readonly string[];
}

/**
 * A containerd of our own, Debian's binaries, started in a private mount
 * namespace; `stop()` (also run by t.after) kills every task, containerd and
 * any process that names its dir, and removes the dir.
 */
export class PrivateContainerd {
  readonly dir = mkdtempSync(join(tmpdir(), 'weft-ctd-'));
  readonly socket = join(this.dir, 'containerd.sock');
  readonly rootfs = join(this.dir, 'rootfs');
  /** ctr's CNI dirs, bind-mounted over /etc/cni/net.d, /opt/cni/bin, /var/lib/cni. */
  readonly cniConf = join(this.dir, 'cni', 'net.d');
  readonly cniBin = join(this.dir, 'cni', 'bin');
  readonly cniCache = join(this.dir, 'cni', 'cache');
  /** The machine as it was before this containerd started. */
  readonly machineBefore = machineView(this.dir);
  private daemon: ChildProcess | undefined;
  private readonly runs: CtrRun[] = [];
  private readonly ids: string[] = [];
  private stopped = false;

  static async start(t: TestContext): Promise<PrivateContainerd> {
    const missing = missingTools();
    if (missing.length > 0)
      throw new Error(`missing: ${missing.join(', ')}; install them with ${INSTALL_COMMAND}`);
    const c = new PrivateContainerd();
    t.after(() => c.stop());
    await c.boot();
    return c;
  }

  private async boot(): Promise<void> {
    for (const d of ['root', 'state', 'run', 'runc', 'fifo', 'opt', 'scratch'])
      mkdirSync(join(this.dir, d));
    for (const d of [this.cniConf, this.cniBin, this.cniCache, join(this.rootfs, 'bin')])
      mkdirSync(d, { recursive: true });
    copyFileSync(BUSYBOX, join(this.rootfs, 'bin', 'busybox'));
    // The plugin as the runtime finds it: `weft`, the bundled shim; Debian's plugins beside it.
    symlinkSync(join(repoRoot(), 'dist', 'weft-cni.js'), join(this.cniBin, 'weft'));
    for (const p of readdirSync(DEBIAN_CNI_BIN))
      symlinkSync(join(DEBIAN_CNI_BIN, p), join(this.cniBin, p));
    const config = join(this.dir, 'config.toml');
    writeFileSync(config, this.config());
    const [cmd = '', ...args] = withPrivateMounts(
      [{ target: SHIM_SOCKET_ROOT, source: join(this.dir, 'run') }],
      join(this.dir, 'scratch'),
      ['containerd', '--config', config],
    );
    const log = openSync(join(this.dir, 'containerd.log'), 'a');
    this.daemon = spawn(cmd, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    await this.untilServing(15_000);
  }

  private config(): string {
    const q = (s: string) => JSON.stringify(s);
    return [
      'version = 2',
      `root = ${q(join(this.dir, 'root'))}`,
      `state = ${q(join(this.dir, 'state'))}`,
      // No CRI (no kubelet here); the snapshotters a rootfs container never uses stay off.
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.devmapper",',
      '  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = ${q(this.socket)}`,
      '[ttrpc]',
      `  address = ${q(`${this.socket}.ttrpc`)}`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${q(join(this.dir, 'opt'))}`,
      '',
    ].join('\n');
  }

  private async untilServing(ms: number): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      if (this.daemon?.exitCode !== null || this.daemon.signalCode !== null)
        throw new Error(`containerd exited:\n${this.log()}`);
      const r = await runFor('ctr', ['--address', this.socket, 'version'], 5_000);
      if (r.code === 0) return;
      if (Date.now() > end)
        throw new Error(`containerd not serving within ${ms} ms:\n${r.stderr}\n${this.log()}`);
      await sleep(100);
    }
  }

  log(): string {
    const path = join(this.dir, 'containerd.log');
    return existsSync(path) ? readFileSync(path, 'utf8').slice(-4000) : '(no log)';
  }

  /** `ctr --address SOCKET ARGS` within `ms`. */
  ctr(args: readonly string[], ms = 10_000): Promise<string> {
    return mustRun('ctr', ['--address', this.socket, ...args], ms);
  }

  /**
   * `ctr run --rm --cni --rootfs` inside `netns`, in a private mount namespace
   * where the conflist and plugin dir are ours and libcni's cache is in our dir.
   */
  run(o: RunOptions): CtrRun {
    this.ids.push(o.id);
    writeFileSync(join(this.cniConf, '10-weft.conflist'), o.conflist);
    const ctr = [
      'ctr',
      '--address',
      this.socket,
      'run',
      '--rm',
      '--cni',
      '--rootfs',
      // No cgroup path: runc makes one named after the container and removes it with it.
      '--cgroup',
      '',
      '--runc-root',
      join(this.dir, 'runc'),
      '--fifo-dir',
      join(this.dir, 'fifo'),
      this.rootfs,
      o.id,
      ...o.command,
    ];
    const binds = [
      { target: CNI_CONF_DIR, source: this.cniConf },
      { target: CNI_BIN_DIR, source: this.cniBin },
      { target: CNI_CACHE_DIR, source: this.cniCache },
    ];
    const child = spawn(
      'ip',
      ['netns', 'exec', o.netns, ...withPrivateMounts(binds, join(this.dir, 'scratch'), ctr)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const r = new CtrRun(child);
    this.runs.push(r);
    return r;
  }

  /** libcni's cached result of the last ADD of container `id`, or undefined once DEL removed it. */
  cachedResult(network: string, id: string): unknown {
    const path = join(this.cniCache, 'results', `${network}-default-${id}-eth0`);
    return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
  }

  /** Processes whose command line names this containerd's dir (shims, runc, ctr), zombies aside. */
  survivors(): number[] {
    const pids: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
        const state = readFileSync(`/proc/${name}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
        if (cmdline.includes(this.dir) && state !== 'Z') pids.push(Number(name));
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  }

  /** cgroup dirs runc made for our containers that are still there. */
  leftoverCgroups(): string[] {
    const root = '/sys/fs/cgroup';
    if (!existsSync(root)) return [];
    const hierarchies = [root, ...readdirSync(root).map((d) => join(root, d))];
    return hierarchies.flatMap((h) =>
      this.ids.map((id) => join(h, id)).filter((p) => existsSync(p) && statSync(p).isDirectory()),
    );
  }

  /** Kills every task, containerd and every survivor, then removes the dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.daemon?.exitCode === null && this.daemon.signalCode === null) {
      const tasks = await runFor('ctr', ['--address', this.socket, 'task', 'ls', '-q'], 5_000);
      for (const id of tasks.stdout.split('\n').filter(Boolean)) {
        await runFor('ctr', ['--address', this.socket, 'task', 'kill', '-s', 'SIGKILL', id], 5_000);
        await runFor('ctr', ['--address', this.socket, 'task', 'rm', '-f', id], 5_000);
      }
      const containers = await runFor('ctr', ['--address', this.socket, 'c', 'ls', '-q'], 5_000);
      for (const id of containers.stdout.split('\n').filter(Boolean))
        await runFor('ctr', ['--address', this.socket, 'c', 'rm', id], 5_000);
    }
    for (const r of this.runs) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await stopChild(this.daemon, 10_000);
    const end = Date.now() + 10_000;
    for (let left = this.survivors(); left.length > 0; left = this.survivors()) {
      for (const pid of left) killQuietly(pid);
      if (Date.now() > end) throw new Error(`processes of ${this.dir} survive: ${left.join(' ')}`);
      await sleep(100);
    }
    for (const p of this.leftoverCgroups()) rmdirSync(p);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
