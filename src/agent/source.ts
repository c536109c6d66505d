import type { Cluster } from '../core/model/types.js';
import { watchManifests } from '../sources/manifests/watch.js';
import { resolveKubeConfig } from '../sources/kubernetes/config.js';
import type { KubeConfig } from '../sources/kubernetes/config.js';
import { watchKubernetes } from '../sources/kubernetes/source.js';
import type { SourceStatus } from '../api/types.js';

/** Where the agent learns the cluster: a directory of manifests, or the Kubernetes API. */
export type SourceSpec =
  | { readonly kind: 'manifests'; readonly dir: string }
  | {
      readonly kind: 'kubernetes';
      /** A kubeconfig file; default: the service account in a pod, else $KUBECONFIG, ~/.kube/config. */
      readonly kubeconfig?: string;
      readonly context?: string;
    };

export interface ClusterSource {
  readonly close: () => void;
  readonly status: () => SourceStatus;
  /** The API connection, for the kubernetes source (the agent patches its Node with it). */
  readonly kube?: KubeConfig;
}

/** A relist of everything this often heals a watch that went wrong silently (as client-go's resync). */
const KUBE_RESYNC_MS = 30 * 60_000;

/** Starts the source; resolves once the first Cluster has been handed to `onCluster`. */
export async function startSource(
  spec: SourceSpec,
  onCluster: (c: Cluster) => void,
  onError: (e: unknown) => void,
): Promise<ClusterSource> {
  if (spec.kind === 'manifests') {
    const w = await watchManifests(spec.dir, onCluster, onError);
    return { close: w.close, status: () => ({ kind: 'manifests', dir: spec.dir }) };
  }
  const kube = await resolveKubeConfig({
    ...(spec.kubeconfig ? { kubeconfig: spec.kubeconfig } : {}),
    ...(spec.context ? { context: spec.context } : {}),
  });
  const w = await watchKubernetes(kube, onCluster, onError, { resyncMs: KUBE_RESYNC_MS });
  return { close: w.close, status: () => ({ kind: 'kubernetes', ...w.status() }), kube };
}
