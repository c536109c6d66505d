import type { IpAddr } from '../core/net/types.js';
import { podKey, type Cluster, type Pod } from '../core/model/types.js';
import { closest, listText } from '../core/text.js';
import { UsageError } from './output.js';

/**
 * The pod a flag names, `ns/pod` or `pod` (namespace default); a usage error
 * otherwise, naming what is there: a pod of that name in another namespace,
 * or the nearest name, as "did you mean".
 */
export function findPod(cluster: Cluster, text: string, flag: string, where: string): Pod {
  const key = text.includes('/') ? text : `default/${text}`;
  const pod = cluster.pods.find((p) => podKey(p) === key);
  if (pod) return pod;
  const keys = cluster.pods.map(podKey);
  const name = key.slice(key.indexOf('/') + 1);
  const sameName = keys.filter((k) => k.endsWith(`/${name}`));
  const near = sameName.length > 0 ? sameName : [closest(key, keys, 3)].filter((k) => k);
  const fix =
    near.length > 0
      ? `did you mean ${near.join(' or ')}?`
      : keys.length > 0
        ? `write NAMESPACE/POD, one of: ${listText(keys, 6)}; or an IP`
        : 'write NAMESPACE/POD of a pod there, or an IP';
  throw new UsageError(`${flag} ${text}: no such pod ${where}`, fix);
}

/** The pod a flag names, with its first address; a usage error when it has none yet. */
export function findPodAddress(
  cluster: Cluster,
  text: string,
  flag: string,
  where: string,
): { readonly pod: Pod; readonly ip: IpAddr } {
  const pod = findPod(cluster, text, flag, where);
  const ip = pod.ips[0];
  if (!ip)
    throw new UsageError(
      `${flag} ${text}: pod ${podKey(pod)} has no address yet`,
      'wait for it to start, or give an IP',
    );
  return { pod, ip };
}
