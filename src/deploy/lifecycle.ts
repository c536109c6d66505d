/**
 * When the DaemonSet's agent container stops, should the node keep weft's CNI
 * config? Keep it on a rolling upgrade, an eviction or a restart (the next
 * agent takes over and pods keep being created); remove it when weft is being
 * uninstalled (a node left with a config whose agent never comes back can
 * create no pod at all).
 *
 * The preStop hook asks the API server for weft's own DaemonSet and this
 * module decides from the answer alone: pure, no I/O.
 */

/** What `GET /apis/apps/v1/namespaces/NS/daemonsets/NAME` gave: an HTTP answer, or none. */
export type ApiAnswer =
  | { readonly kind: 'http'; readonly status: number; readonly body: string }
  | { readonly kind: 'unreachable'; readonly message: string };

export type StopDecision =
  | { readonly action: 'remove'; readonly reason: string }
  | { readonly action: 'keep'; readonly reason: string };

/** `NAMESPACE/NAME` of a DaemonSet, checked against Kubernetes' name rules. */
export interface DaemonSetRef {
  readonly namespace: string;
  readonly name: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function parseDaemonSetRef(text: string): DaemonSetRef | undefined {
  const parts = text.split('/');
  if (parts.length !== 2) return undefined;
  const [namespace = '', name = ''] = parts;
  if (!DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(name)) return undefined;
  return { namespace, name };
}

export function daemonSetPath(ref: DaemonSetRef): string {
  return `/apis/apps/v1/namespaces/${ref.namespace}/daemonsets/${ref.name}`;
}

/**
 * The decision. Only an answer that proves weft is going away removes the
 * config: the DaemonSet is gone (404) or being deleted, or the agent's own
 * credentials were deleted with it (401: the ServiceAccount is gone; 403: its
 * RBAC is gone; `kubectl delete -f` and `helm uninstall` delete those in the
 * same breath as the DaemonSet, and often before this hook runs). Anything
 * uncertain — no answer, a server error — keeps the config: a stale config
 * is repaired by reinstalling, a missing one stops every pod on the node.
 */
export function decideOnStop(answer: ApiAnswer, ref: DaemonSetRef): StopDecision {
  const ds = `daemonset ${ref.namespace}/${ref.name}`;
  if (answer.kind === 'unreachable')
    return { action: 'keep', reason: `API server unreachable (${answer.message}); keeping` };
  switch (answer.status) {
    case 200:
      return deletionTimestamp(answer.body)
        ? { action: 'remove', reason: `${ds} is being deleted: weft is being uninstalled` }
        : {
            action: 'keep',
            reason: `${ds} still exists: an upgrade, eviction or restart; keeping`,
          };
    case 404:
      return { action: 'remove', reason: `${ds} is gone: weft is being uninstalled` };
    case 401:
      return {
        action: 'remove',
        reason: "the agent's token is refused: its ServiceAccount was deleted with weft",
      };
    case 403:
      return {
        action: 'remove',
        reason: `the agent may no longer read ${ds}: its RBAC was deleted with weft`,
      };
    default:
      return { action: 'keep', reason: `API server answered ${answer.status}; keeping` };
  }
}

function deletionTimestamp(body: string): boolean {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return false;
  }
  const metadata = isObject(raw) ? raw['metadata'] : undefined;
  return isObject(metadata) && typeof metadata['deletionTimestamp'] === 'string';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
