/**
 * Whether the agent can enter a pod's network namespace by the path the
 * runtime gave (CNI_NETNS). The agent runs in a container of its own: a
 * namespace the runtime bind-mounted under a directory the agent does not
 * mount, or mounted without propagation, looks absent or like an empty file,
 * and `ip` would only say "Invalid argument". This says which, and the fix.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

/** statfs(2) f_type of the nsfs file system every namespace file lives on. */
const NSFS_MAGIC = 0x6e736673;

/** Why `path` is not a network namespace the agent can enter; undefined when it is. */
export async function netnsPathProblem(
  path: string,
): Promise<{ message: string; fix: string } | undefined> {
  const dir = dirname(path);
  const mount = `mount ${dir} into the weft agent's container with mountPropagation: HostToContainer (the chart's cni.netnsDirs; docs/install.md lists each runtime's directory)`;
  let type: number;
  try {
    type = (await statfs(path)).type;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR')
      return {
        message: `CNI_NETNS ${path} cannot be read by the weft agent (${code})`,
        fix: mount,
      };
    return {
      message: `CNI_NETNS ${path} does not exist in the weft agent's view of the node`,
      fix: `if the runtime created it, ${mount}; /proc/PID/ns/net paths need hostPID: true`,
    };
  }
  if (type === NSFS_MAGIC) return undefined;
  return {
    message: `CNI_NETNS ${path} is not a network namespace in the weft agent's view (a plain file: the runtime's bind mount did not reach the agent)`,
    fix: mount,
  };
}
