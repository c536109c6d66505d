import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ErrorCodes, WeftError, type ErrorCode } from '../../core/errors.js';
import { loadKubeconfig } from './kubeconfig.js';

/**
 * How to reach the Kubernetes API server: from the pod's service account when
 * the agent runs in the cluster, or from a kubeconfig file. Problems are
 * WeftErrors naming the file (or variable), the field and the fix.
 */
export interface KubeConfig {
  /** `https://10.96.0.1:443`; `http://` is accepted (tests, a local proxy). */
  readonly server: URL;
  /** PEM certificates that sign the server's certificate (else the system's). */
  readonly ca?: Buffer;
  /** Client certificate and key, PEM. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly insecureSkipTlsVerify: boolean;
  /** The name to check the server's certificate against, when not the URL's host. */
  readonly tlsServerName?: string;
  /** The bearer token, asked for before each request (a file is re-read when it changes). */
  readonly token?: TokenSource;
  /** The namespace of the context or of the service account, when known. */
  readonly namespace?: string;
  /** Where this came from, for messages: `in-cluster service account`, `kubeconfig FILE (context C)`. */
  readonly origin: string;
}

export interface TokenSource {
  token(): Promise<string>;
}

export function staticToken(token: string): TokenSource {
  return { token: () => Promise.resolve(token) };
}

/** The standard place of the service account's token, CA and namespace in a pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function configError(
  object: string,
  field: string,
  message: string,
  fix: string,
  code: ErrorCode = ErrorCodes.INVALID_FIELD,
): WeftError {
  return WeftError.of({ code, object, field, message, fix });
}

/**
 * A token kept in a file and re-read whenever the file changes (inode, size or
 * modification time): projected service account tokens are rotated by the
 * kubelet, which swaps a symlink, so the next request carries the new token.
 */
export class FileToken implements TokenSource {
  private stamp = '';
  private value = '';

  constructor(
    readonly path: string,
    private readonly fix = 'mount a service account token there (automountServiceAccountToken: true)',
  ) {}

  async token(): Promise<string> {
    let stamp: string;
    try {
      const s = await stat(this.path);
      stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (e) {
      throw this.unreadable(e);
    }
    if (stamp === this.stamp) return this.value;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      throw this.unreadable(e);
    }
    const value = text.trim();
    if (value === '') {
      throw configError(this.path, '', 'is empty: no bearer token in it', this.fix);
    }
    this.stamp = stamp;
    this.value = value;
    return value;
  }

  private unreadable(e: unknown): WeftError {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(e)})`;
    return configError(this.path, '', why, this.fix, ErrorCodes.NOT_FOUND);
  }
}

/**
 * The in-cluster configuration, as client-go's InClusterConfig:
 * KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (set by the kubelet),
 * the service account's token (re-read when rotated), ca.crt and namespace.
 */
export async function inClusterConfig(
  opts: { env?: NodeJS.ProcessEnv; dir?: string } = {},
): Promise<KubeConfig> {
  const env = opts.env ?? process.env;
  const dir = opts.dir ?? SERVICE_ACCOUNT_DIR;
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  const where = 'in-cluster config (environment)';
  const podFix = 'run the agent in a pod (the kubelet sets it), or give it a kubeconfig';
  if (!host) {
    throw configError(
      where,
      'KUBERNETES_SERVICE_HOST',
      'is not set',
      podFix,
      ErrorCodes.MISSING_FIELD,
    );
  }
  if (!port) {
    throw configError(
      where,
      'KUBERNETES_SERVICE_PORT',
      'is not set',
      podFix,
      ErrorCodes.MISSING_FIELD,
    );
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw configError(
      where,
      'KUBERNETES_SERVICE_PORT',
      `${JSON.stringify(port)} is not a port number`,
      podFix,
    );
  }
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  const caPath = join(dir, 'ca.crt');
  const ca = await readFile(caPath).catch((e: NodeJS.ErrnoException) => {
    throw configError(
      caPath,
      '',
      e.code === 'ENOENT' ? 'does not exist' : `cannot be read (${e.code ?? e.message})`,
      'mount the service account (automountServiceAccountToken: true); it carries the cluster CA',
      ErrorCodes.NOT_FOUND,
    );
  });
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw configError(
      caPath,
      '',
      'holds no PEM certificate',
      "mount the service account's own ca.crt",
    );
  }
  const token = new FileToken(join(dir, 'token'));
  await token.token();
  const namespace = (await readFile(join(dir, 'namespace'), 'utf8').catch(() => '')).trim();
  return {
    server,
    ca,
    insecureSkipTlsVerify: false,
    token,
    ...(namespace ? { namespace } : {}),
    origin: `in-cluster service account (${dir})`,
  };
}

/**
 * The configuration the agent should use: the kubeconfig it was given; else,
 * in a pod, the service account; else $KUBECONFIG (one file); else
 * ~/.kube/config.
 */
export async function resolveKubeConfig(
  opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv; home?: string } = {},
): Promise<KubeConfig> {
  const env = opts.env ?? process.env;
  const context = opts.context ? { context: opts.context } : {};
  if (opts.kubeconfig) return loadKubeconfig(opts.kubeconfig, context);
  if (env['KUBERNETES_SERVICE_HOST'] && !opts.context) return inClusterConfig({ env });
  const listed = (env['KUBECONFIG'] ?? '').split(delimiter).filter((p) => p !== '');
  if (listed.length > 1) {
    throw configError(
      'environment',
      'KUBECONFIG',
      `lists ${listed.length} files; weft reads one kubeconfig and does not merge them`,
      'pass the one file to use explicitly, e.g. --kubeconfig FILE',
    );
  }
  const file = listed[0] ?? join(opts.home ?? homedir(), '.kube', 'config');
  try {
    await stat(file);
  } catch {
    throw configError(
      file,
      '',
      'does not exist, KUBERNETES_SERVICE_HOST is not set (not in a pod) and no kubeconfig was given',
      'run the agent in a pod, or give it a kubeconfig (--kubeconfig FILE or KUBECONFIG=FILE)',
      ErrorCodes.NOT_FOUND,
    );
  }
  return loadKubeconfig(file, context);
}
