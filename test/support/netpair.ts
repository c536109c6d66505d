import type { Sandbox } from './sandbox.js';
import { run } from '../../src/host/exec.js';

/**
 * Two namespaces joined by a veth pair, IPv4 and IPv6 (no DAD wait), each
 * end named `v0` inside its namespace.
 */
export interface Link {
  readonly a: string;
  readonly b: string;
  readonly a4: string;
  readonly b4: string;
  readonly a6: string;
  readonly b6: string;
}

export async function veth(
  sb: Sandbox,
  a: string,
  b: string,
  net4: string,
  net6: string,
  names: { a: string; b: string } = { a: 'v0', b: 'v0' },
): Promise<Link> {
  const tmpA = `${sb.prefix}a${net4.split('.')[2]}`;
  const tmpB = `${sb.prefix}b${net4.split('.')[2]}`;
  await run('ip', [
    'link',
    'add',
    tmpA,
    'netns',
    a,
    'type',
    'veth',
    'peer',
    'name',
    tmpB,
    'netns',
    b,
  ]);
  const link: Link = {
    a,
    b,
    a4: `${net4}.1`,
    b4: `${net4}.2`,
    a6: `${net6}::1`,
    b6: `${net6}::2`,
  };
  for (const [ns, tmp, name, v4, v6] of [
    [a, tmpA, names.a, link.a4, link.a6],
    [b, tmpB, names.b, link.b4, link.b6],
  ] as const) {
    await run('ip', ['-n', ns, 'link', 'set', tmp, 'name', name]);
    await run('ip', ['-n', ns, 'addr', 'add', `${v4}/24`, 'dev', name]);
    await run('ip', ['-n', ns, 'addr', 'add', `${v6}/64`, 'dev', name, 'nodad']);
    await run('ip', ['-n', ns, 'link', 'set', name, 'up']);
  }
  return link;
}

export async function ifindex(ns: string, dev: string): Promise<number> {
  const out = JSON.parse(await run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', dev])) as {
    ifindex: number;
  }[];
  const i = out[0]?.ifindex;
  if (i === undefined) throw new Error(`no link ${dev} in ${ns}`);
  return i;
}

/** Runs a Node script inside a namespace; resolves with its stdout. */
export function node(sb: Sandbox, ns: string, script: string, ...args: string[]): Promise<string> {
  return sb.exec(ns, process.execPath, ['-e', script, ...args]);
}

/** Polls `check` every 20 ms until it returns a value or `ms` pass. */
export async function within<T>(ms: number, what: string, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
