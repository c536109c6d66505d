import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { repoRoot } from '../../src/testing/paths.js';

let counter = 0;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A lab of its own for one test, under a temp WEFT_LAB_ROOT; `weft lab down` runs at the end, pass or fail. */
export class TestLab {
  readonly name = `t${process.pid.toString(36)}${(counter++).toString(36)}`;
  readonly root = mkdtempSync(join(tmpdir(), 'weft-lab-'));

  static create(t: TestContext): TestLab {
    const lab = new TestLab();
    t.after(async () => {
      // WEFT_KEEP_LAB=1 leaves the lab up for a look after a failure (then: weft lab down).
      if (process.env['WEFT_KEEP_LAB'] === '1') return;
      await lab.weft('lab', 'down', '--name', lab.name);
      rmSync(lab.root, { recursive: true, force: true });
    });
    return lab;
  }

  /** Runs `weft ARGS` with this lab's root. */
  weft(...args: string[]): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(repoRoot(), 'bin/weft.js'), ...args], {
        env: { ...process.env, WEFT_LAB_ROOT: this.root },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  /** `weft lab VERB --name N ARGS`, failing the test on a non-zero exit. */
  async lab(verb: string, ...args: string[]): Promise<string> {
    const r = await this.weft('lab', verb, '--name', this.name, ...args);
    if (r.code !== 0)
      throw new Error(
        `weft lab ${verb} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`,
      );
    return r.stdout;
  }

  async probe(...args: string[]): Promise<Record<string, Record<string, boolean>>[]> {
    const out = JSON.parse(await this.lab('probe', '-o', 'json', ...args)) as {
      probes: { matrix: Record<string, Record<string, boolean>> }[];
    };
    return out.probes.map((p) => p.matrix);
  }

  path(...parts: string[]): string {
    return join(this.root, this.name, ...parts);
  }
}

export function everyPair(m: Record<string, Record<string, boolean>>): [string, string, boolean][] {
  return Object.entries(m).flatMap(([from, row]) =>
    Object.entries(row).map(([to, ok]): [string, string, boolean] => [from, to, ok]),
  );
}
