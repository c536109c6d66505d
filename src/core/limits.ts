/**
 * The sizes weft reads, in one place. Past each, the input is refused with a
 * WEFT_LIMIT error naming the object, the limit and the fix, instead of a
 * hang or a node whose nft transaction never ends. docs/limits.md lists them.
 */
export const Limits = {
  /** One manifest file. A directory of many files is read whole. */
  manifestFileBytes: 16 * 1024 * 1024,
  /** Objects (YAML documents and List items) in one manifest file. */
  manifestObjectsPerFile: 100_000,
  /** Nesting of maps and lists in one object; Kubernetes objects stay well under 50. */
  manifestDepth: 100,
  /** Entries of one NetworkPolicy rule's `ports` (endPort ranges make many ports one entry). */
  portsPerRule: 1_000,
  /** The network config a runtime writes to weft-cni's stdin. */
  cniStdinBytes: 512 * 1024,
  /** An answer of the agent API (status, policy, endpoints, metrics, a CNI result). */
  agentAnswerBytes: 16 * 1024 * 1024,
  /** The agent API's large answers: a node's buffered flows, the cluster's policy IR. */
  agentLargeAnswerBytes: 256 * 1024 * 1024,
  /** One line of a streamed answer of the agent API (one flow). */
  agentStreamLineBytes: 1024 * 1024,
} as const;

/** `n` bytes as MiB or KiB, for messages. */
export function sizeText(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
