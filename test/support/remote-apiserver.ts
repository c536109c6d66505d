import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../../src/testing/paths.js';
import type { Sandbox } from './sandbox.js';
import type { Fault } from './fake-wire.js';

type Raw = Record<string, unknown>;
type Reply = { ok: boolean; result?: unknown; error?: string };

/**
 * The fake API server running inside a network namespace (see
 * fake-apiserver-main.ts), driven over its stdin/stdout from the test.
 */
export class RemoteApiServer {
  private next = 1;
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly waiting: Map<number, (r: Reply) => void>,
  ) {}

  static async start(sb: Sandbox, ns: string): Promise<RemoteApiServer> {
    const script = join(repoRoot(), 'dist-test/test/support/fake-apiserver-main.js');
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, '--serve'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    sb.own(child);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const waiting = new Map<number, (r: Reply) => void>();
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the fake API server did not start')), 10_000);
      child.once('exit', (code) => reject(new Error(`the fake API server exited ${code}`)));
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as Reply & { url?: string; id?: number };
        if (msg.url !== undefined) {
          clearTimeout(t);
          resolve(msg.url);
          return;
        }
        waiting.get(msg.id ?? -1)?.(msg);
      });
    });
    return new RemoteApiServer(child, url, waiting);
  }

  private call(c: Raw): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (r) => {
        this.waiting.delete(id);
        if (r.ok) resolve(r.result);
        else reject(new Error(r.error));
      });
      this.child.stdin?.write(`${JSON.stringify({ id, ...c })}\n`);
    });
  }

  create(resource: string, obj: Raw): Promise<unknown> {
    return this.call({ op: 'create', resource, obj });
  }
  update(resource: string, obj: Raw): Promise<unknown> {
    return this.call({ op: 'update', resource, obj });
  }
  remove(resource: string, key: string): Promise<unknown> {
    return this.call({ op: 'remove', resource, key });
  }
  async get(resource: string, key: string): Promise<Raw | null> {
    return (await this.call({ op: 'get', resource, key })) as Raw | null;
  }
  inject(fault: Fault): Promise<unknown> {
    return this.call({ op: 'inject', fault });
  }
}
