/**
 * Errors of the Kubernetes API source, each with a stable code. Problems of a
 * configuration file are WeftErrors with issues (file, field, fix), as for
 * manifests; these are the errors of talking to the API server.
 */
export const KubeErrorCodes = {
  /** 410 Gone: the resourceVersion (or continue token) is compacted; the source relists. */
  GONE: 'WEFT_KUBE_GONE',
  /** 401 or 403: the credentials are refused or lack a permission. */
  AUTH: 'WEFT_KUBE_AUTH',
  /** 404 for an API that is not served (e.g. ClusterNetworkPolicy without its CRD). */
  ABSENT: 'WEFT_KUBE_ABSENT',
  /** Any other HTTP status (5xx, 429 ...). */
  HTTP: 'WEFT_KUBE_HTTP',
  /** The connection failed, was dropped, or went silent. */
  CONNECTION: 'WEFT_KUBE_CONNECTION',
  /** The server sent something that is not the list/watch protocol. */
  PROTOCOL: 'WEFT_KUBE_PROTOCOL',
} as const;

export type KubeErrorCode = (typeof KubeErrorCodes)[keyof typeof KubeErrorCodes];

export class KubeError extends Error {
  constructor(
    readonly code: KubeErrorCode,
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
  if (code === 410) return new KubeError(KubeErrorCodes.GONE, text, code, reason);
  if (code === 401) {
    return new KubeError(
      KubeErrorCodes.AUTH,
      `${text} (fix: the token or client certificate is not accepted; check that it is current)`,
      code,
      reason,
    );
  }
  if (code === 403) {
    return new KubeError(
      KubeErrorCodes.AUTH,
      `${text} (fix: grant the agent's service account get, list and watch on this resource in its ClusterRole)`,
      code,
      reason,
    );
  }
  if (code === 404) return new KubeError(KubeErrorCodes.ABSENT, text, code, reason);
  return new KubeError(KubeErrorCodes.HTTP, text, code, reason);
}

export function isGone(e: unknown): boolean {
  return e instanceof KubeError && e.code === KubeErrorCodes.GONE;
}
