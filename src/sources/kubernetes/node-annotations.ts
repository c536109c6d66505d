import { NODE_ANNOTATION_KEYS, type NodeAnnotationKey } from '../../core/model/node-annotations.js';
import { KubeClient } from './client.js';
import type { KubeConfig } from './config.js';
import { ErrorCodes } from '../../core/errors.js';
import { KubeError } from './errors.js';
import { backoffDelay } from './protocol.js';

/**
 * The agent's own Node annotations under `weft.dev/`: what it runs with, what
 * a peer needs to reach its pods (the VTEP MAC, the underlay address), and
 * where its read-only views are served to its peers' UI (`observe-url`).
 * weft derives a peer's VTEP MAC from its node name, so no agent waits for
 * another's annotations; they let operators and tools see and check what each
 * node programs (`kubectl get node NAME -o yaml`).
 *
 * Written with a JSON merge patch that names only these keys: other
 * annotations are left alone, and a key the agent no longer sets is removed
 * (null). A failed patch is retried with backoff until it lands or the agent
 * stops; publishing never holds up the dataplane.
 */

export type NodeAnnotations = Partial<Record<NodeAnnotationKey, string>>;

/** The merge patch that makes the Node carry exactly `annotations` among weft's keys. */
export function annotationPatch(annotations: NodeAnnotations): {
  metadata: { annotations: Record<string, string | null> };
} {
  const out: Record<string, string | null> = {};
  for (const key of NODE_ANNOTATION_KEYS) out[key] = annotations[key] ?? null;
  return { metadata: { annotations: out } };
}

export interface PublisherStatus {
  /** The annotations the agent wants on its Node. */
  readonly wanted: NodeAnnotations;
  /** They are on the Node (the last patch succeeded and nothing changed since). */
  readonly published: boolean;
  readonly attempts: number;
  readonly lastError?: string;
}

const BACKOFF = { initialMs: 1000, maxMs: 60_000 };
const TIMEOUT_MS = 10_000;

export class NodeAnnotationPublisher {
  private readonly client: KubeClient;
  private readonly abort = new AbortController();
  private wanted: NodeAnnotations = {};
  private published = false;
  private attempts = 0;
  private failures = 0;
  private lastError: string | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    config: KubeConfig,
    private readonly nodeName: string,
    private readonly log: (line: string) => void,
    private readonly backoff = BACKOFF,
  ) {
    this.client = new KubeClient(config, 'weft-agent');
  }

  /** Makes these the Node's weft annotations, now and after any failure. */
  publish(annotations: NodeAnnotations): void {
    if (this.abort.signal.aborted) return;
    // The same again (the agent publishes on every Cluster): a retry already has it.
    if (sameAnnotations(annotations, this.wanted)) return;
    this.wanted = { ...annotations };
    this.published = false;
    this.failures = 0;
    clearTimeout(this.timer);
    this.kick();
  }

  status(): PublisherStatus {
    return {
      wanted: this.wanted,
      published: this.published,
      attempts: this.attempts,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Resolves once the current annotations are on the Node (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  close(): void {
    clearTimeout(this.timer);
    this.abort.abort();
    this.client.close();
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.attempt().finally(() => {
      this.running = undefined;
      if (!this.published && !this.abort.signal.aborted) {
        const delay = backoffDelay(this.failures, this.backoff, Math.random);
        this.timer = setTimeout(() => this.kick(), delay);
      }
    });
  }

  private async attempt(): Promise<void> {
    const wanted = this.wanted;
    this.attempts++;
    try {
      await this.client.mergePatch(
        `/api/v1/nodes/${encodeURIComponent(this.nodeName)}`,
        annotationPatch(wanted),
        this.abort.signal,
        TIMEOUT_MS,
      );
      // A publish() while the patch was in flight wants another round.
      this.published = wanted === this.wanted;
      if (this.lastError) this.log(`node annotations: published after ${this.attempts} attempts`);
      this.lastError = undefined;
    } catch (e) {
      if (this.abort.signal.aborted) return;
      this.failures++;
      const message = describe(e, this.nodeName);
      if (message !== this.lastError) this.log(`node annotations: ${message} (retrying)`);
      this.lastError = message;
    }
  }
}

function sameAnnotations(a: NodeAnnotations, b: NodeAnnotations): boolean {
  return NODE_ANNOTATION_KEYS.every((k) => a[k] === b[k]);
}

function describe(e: unknown, node: string): string {
  if (e instanceof KubeError && e.status === 403)
    return (
      `patching Node ${node} is forbidden (fix: grant the agent's service account ` +
      `patch on nodes in its ClusterRole, as deploy/ does)`
    );
  if (e instanceof KubeError && e.status === 404)
    return `Node ${node} does not exist (fix: check --node-name; it must be the Node's name)`;
  if (e instanceof KubeError && e.code === ErrorCodes.KUBE_CONNECTION) return e.message;
  return e instanceof Error ? e.message : String(e);
}
