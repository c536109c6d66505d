import { compareCidr, formatCidr } from '../net/cidr.js';
import type { Cidr } from '../net/types.js';
import type { Cluster } from '../model/types.js';

/**
 * Which pod CIDRs this node's IPAM gives out: the ones configured
 * (`--pod-cidr`, a fixed pool), or else its Node's `spec.podCIDRs` as the
 * cluster allocated them. Peers route to a node's `spec.podCIDRs`, so a
 * configured pool that differs from them is allowed (the Node may not carry
 * any) but said out loud.
 */
export type PodCidrChoice =
  | { readonly kind: 'ok'; readonly cidrs: readonly Cidr[]; readonly warning?: string }
  | { readonly kind: 'wait'; readonly reason: string };

export function choosePodCidrs(
  nodeName: string,
  cluster: Cluster | undefined,
  configured: readonly Cidr[],
): PodCidrChoice {
  const node = cluster?.nodes.find((n) => n.name === nodeName);
  if (configured.length > 0) {
    if (!node || node.podCidrs.length === 0 || sameCidrs(node.podCidrs, configured))
      return { kind: 'ok', cidrs: configured };
    return {
      kind: 'ok',
      cidrs: configured,
      warning:
        `Node ${nodeName} has spec.podCIDRs ${list(node.podCidrs)} but --pod-cidr gives ` +
        `${list(configured)}; peers route ${list(node.podCidrs)} to this node ` +
        `(fix: drop --pod-cidr to use the Node's, or make them equal)`,
    };
  }
  if (!cluster) return { kind: 'wait', reason: 'no cluster state from the source yet' };
  if (!node)
    return {
      kind: 'wait',
      reason:
        `Node ${nodeName} is not in the source ` +
        `(fix: check --node-name, it must be the Node's metadata.name; or pass --pod-cidr)`,
    };
  if (node.podCidrs.length === 0)
    return {
      kind: 'wait',
      reason:
        `Node ${nodeName} has no spec.podCIDRs yet (fix: run kube-controller-manager with ` +
        `--allocate-node-cidrs and --cluster-cidr, or pass --pod-cidr)`,
    };
  return { kind: 'ok', cidrs: node.podCidrs };
}

function sameCidrs(a: readonly Cidr[], b: readonly Cidr[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort(compareCidr);
  const sb = [...b].sort(compareCidr);
  return sa.every((c, i) => compareCidr(c, sb[i] as Cidr) === 0);
}

function list(cidrs: readonly Cidr[]): string {
  return cidrs.map(formatCidr).join(', ');
}
