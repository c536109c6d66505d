import { ErrorCodes, type CodesOf } from '../../core/errors.js';

/**
 * Errors of the Kubernetes API source, each with a stable code (KUBE_* in
 * core/errors.ts). Problems of a configuration file are WeftErrors with
 * issues (file, field, fix), as for manifests; these are the errors of
 * talking to the API server.
 */
export class KubeError extends Error {
  constructor(
    readonly code: CodesOf<'KUBE_'>,
    message: string,
    /** The HTTP status (or a watch ERROR event's code), when there was one. */
    readonly status?: number,
    /** The Status reason (`Expired`, `NotFound` ...), when the server gave one. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'KubeError';
  }
}

/** The error for an API Status (an HTTP error body, or a watch ERROR event's object). */
export function statusError(code: number, reason: string | undefined, message: string): KubeError {
  const text = `${code}${reason ? ` ${reason}` : ''}: ${message}`;
  if (code === 410) return new KubeError(ErrorCodes.KUBE_GONE, text, code, reason);
  if (code === 401) {
    return new KubeError(
      ErrorCodes.KUBE_AUTH,
      `${text} (fix: the token or client certificate is not accepted; check that it is current)`,
      code,
      reason,
    );
  }
  if (code === 403) {
    return new KubeError(
      ErrorCodes.KUBE_AUTH,
      `${text} (fix: grant the agent's service account get, list and watch on this resource in its ClusterRole)`,
      code,
      reason,
    );
  }
  if (code === 404) return new KubeError(ErrorCodes.KUBE_ABSENT, text, code, reason);
  return new KubeError(ErrorCodes.KUBE_HTTP, text, code, reason);
}

export function isGone(e: unknown): boolean {
  return e instanceof KubeError && e.code === ErrorCodes.KUBE_GONE;
}
