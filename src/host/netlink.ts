import { readFile, writeFile } from 'node:fs/promises';
import { ExecError, run } from './exec.js';

/**
 * The agent's hands on the kernel's network state: iproute2, batched so one
 * change is one process, and nsenter for a pod's namespace. Every command is
 * the same one an operator would type.
 */

/** Runs `ip -batch -` in the agent's own network namespace. */
export async function hostBatch(lines: readonly string[]): Promise<void> {
  if (lines.length > 0) await run('ip', ['-batch', '-'], `${lines.join('\n')}\n`);
}

/** Runs `ip -batch -` inside the network namespace at `netns` (a path). */
export async function netnsBatch(netns: string, lines: readonly string[]): Promise<void> {
  if (lines.length > 0)
    await run('nsenter', [`--net=${netns}`, 'ip', '-batch', '-'], `${lines.join('\n')}\n`);
}

/** `ip -j ARGS` in the agent's namespace, or in `netns` when given; parsed JSON. */
export async function ipJson<T>(args: readonly string[], netns?: string): Promise<T> {
  const out = netns
    ? await run('nsenter', [`--net=${netns}`, 'ip', '-j', ...args])
    : await run('ip', ['-j', ...args]);
  return (out.trim() === '' ? [] : JSON.parse(out)) as T;
}

export interface LinkInfo {
  readonly ifname: string;
  readonly address?: string;
  readonly mtu?: number;
  readonly operstate?: string;
  readonly flags?: readonly string[];
}

/** The link named `name`, or undefined when there is none. */
export async function findLink(name: string, netns?: string): Promise<LinkInfo | undefined> {
  try {
    const [link] = await ipJson<LinkInfo[]>(['link', 'show', 'dev', name], netns);
    return link;
  } catch (e) {
    if (e instanceof ExecError && /does not exist|Cannot find device/.test(e.stderr))
      return undefined;
    throw e;
  }
}

/** Deletes a link; a link that is already gone is not an error. */
export async function deleteLink(name: string): Promise<boolean> {
  try {
    await run('ip', ['link', 'del', 'dev', name]);
    return true;
  } catch (e) {
    if (e instanceof ExecError && /does not exist|Cannot find device/.test(e.stderr)) return false;
    throw e;
  }
}

/** Links of the agent's namespace whose name starts with `prefix`. */
export async function linksWithPrefix(prefix: string): Promise<LinkInfo[]> {
  const links = await ipJson<LinkInfo[]>(['link', 'show']);
  return links.filter((l) => l.ifname.startsWith(prefix));
}

/** Writes a sysctl of the agent's own network namespace (`net.ipv4.ip_forward` → /proc/sys/...). */
export async function setSysctl(name: string, value: string): Promise<void> {
  await writeFile(`/proc/sys/${name.replaceAll('.', '/')}`, value);
}

export async function getSysctl(name: string): Promise<string> {
  return (await readFile(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8')).trim();
}
