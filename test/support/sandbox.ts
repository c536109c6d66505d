import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { run } from '../../src/host/exec.js';
import { AgentClient } from '../../src/api/client.js';
import { AgentRoutes, type JsonRoute } from '../../src/api/routes.js';
import { repoRoot } from '../../src/testing/paths.js';

let counter = 0;

/**
 * What one test made on the machine — network namespaces, processes, temp
 * dirs — each uniquely named, and all of it removed when the test ends,
 * passed or failed. Nothing here touches the root namespace's links, routes
 * or nftables.
 */
export class Sandbox {
  readonly prefix = `wt${process.pid.toString(36)}${(counter++).toString(36)}`;
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly dirs: string[] = [];

  static create(t: TestContext): Sandbox {
    const s = new Sandbox();
    t.after(() => s.destroy());
    return s;
  }

  /** A new network namespace `PREFIX-role`, with lo up; returns its name. */
  async netns(role: string): Promise<string> {
    const name = `${this.prefix}-${role}`;
    await run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  nsPath(name: string): string {
    return `/var/run/netns/${name}`;
  }

  dir(): string {
    const d = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    this.dirs.push(d);
    return d;
  }

  /** Runs a command inside a namespace. */
  exec(ns: string, cmd: string, args: readonly string[], input?: string): Promise<string> {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], input);
  }

  /** A process the sandbox kills at the end. */
  own(child: ChildProcess): void {
    this.children.push(child);
  }

  /** Starts a long-running process inside a namespace; it is killed at the end. */
  spawnIn(
    ns: string,
    cmd: string,
    args: readonly string[],
    log?: (line: string) => void,
  ): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.push(child);
    const sink = (d: Buffer) => log?.(d.toString());
    child.stdout?.on('data', sink);
    child.stderr?.on('data', sink);
    return child;
  }

  /** `weft agent` in `ns`, serving its CNI socket in a temp dir; resolves once it answers ready. */
  async agent(ns: string, args: readonly string[]): Promise<AgentProcess> {
    const dir = this.dir();
    const socket = join(dir, 'cni.sock');
    const stateDir = join(dir, 'state');
    const output: string[] = [];
    const weft = join(repoRoot(), 'bin/weft.js');
    const start = () => {
      const child = this.spawnIn(
        ns,
        process.execPath,
        [weft, 'agent', '--socket', socket, '--state-dir', stateDir, ...args],
        (l) => output.push(l),
      );
      return child;
    };
    const proc: AgentProcess = {
      child: start(),
      socket,
      stateDir,
      output,
      restart: async () => undefined,
    };
    proc.restart = async (signal: NodeJS.Signals = 'SIGTERM') => {
      await stopChild(proc.child, signal);
      proc.child = start();
      await waitReady(socket, output);
    };
    await waitReady(socket, output);
    return proc;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.children.map((c) => stopChild(c, 'SIGKILL')));
    for (const ns of this.namespaces.reverse())
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

export interface AgentProcess {
  child: ChildProcess;
  readonly socket: string;
  readonly stateDir: string;
  readonly output: string[];
  restart: (signal?: NodeJS.Signals) => Promise<void>;
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** The agent on its socket, as the tests ask it (2 s per answer unless told). */
export function agentAt(socket: string, timeoutMs = 2000): AgentClient {
  return new AgentClient({ kind: 'unix', node: 'test', socket }, timeoutMs);
}

/** A JSON answer of the agent on its socket. */
export function agentGet<T>(socket: string, route: JsonRoute<T>): Promise<T> {
  return agentAt(socket).get(route);
}

async function waitReady(socket: string, output: string[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const s = await agentGet(socket, AgentRoutes.status);
      if (s.ready) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`agent did not become ready within 15 s:\n${output.join('')}`);
}
