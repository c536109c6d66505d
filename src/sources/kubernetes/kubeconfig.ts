import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse, YAMLParseError } from 'yaml';
import { ErrorCodes, WeftError } from '../../core/errors.js';
import { isPlainObject, ObjectReader, ParseContext } from '../../core/model/fields.js';
import { configError, staticToken, FileToken, type KubeConfig } from './config.js';

/**
 * A kubeconfig file, read as kubectl reads it for one context: the cluster's
 * server, certificate authority and TLS options, and the user's client
 * certificate or token. Relative paths are relative to the file. Only the
 * chosen context, cluster and user are checked, strictly: an unknown field is
 * an error with a suggestion, and an authentication method weft does not
 * implement (exec plugins, auth providers, basic auth, impersonation) is
 * named with the way to replace it.
 */

const CLUSTER_FIELDS_IGNORED = ['extensions', 'disable-compression'];
const USER_UNSUPPORTED: Readonly<Record<string, string>> = {
  exec: 'an exec credential plugin',
  'auth-provider': 'an auth provider',
  username: 'basic authentication',
  password: 'basic authentication',
  as: 'impersonation',
  'as-uid': 'impersonation',
  'as-groups': 'impersonation',
  'as-user-extra': 'impersonation',
};
const TOKEN_FIX =
  'use a token (e.g. from `kubectl create token SERVICEACCOUNT`) or a client certificate in this user';

interface Entry {
  readonly index: number;
  readonly reader: ObjectReader;
}

export async function loadKubeconfig(
  file: string,
  opts: { context?: string } = {},
): Promise<KubeConfig> {
  const doc = await readDocument(file);
  const ctx = new ParseContext(`kubeconfig ${file}`);
  const root = ObjectReader.at(ctx, '', doc);
  if (!root) throw new WeftError(ctx.issues);
  const kind = root.string('kind');
  if (kind !== undefined && kind !== 'Config') {
    ctx.invalid(
      'kind',
      `is ${JSON.stringify(kind)}, not Config`,
      'give the path of a kubeconfig file',
    );
  }
  root.string('apiVersion');
  root.ignore('preferences', 'extensions');
  const current = root.string('current-context');
  const contexts = root.list('contexts') ?? [];
  const clusters = root.list('clusters') ?? [];
  const users = root.list('users') ?? [];
  root.done();
  ctx.throwIfAny();
  const name = opts.context ?? (current || undefined);
  const names = entryNames(contexts);
  if (name === undefined) {
    throw configError(
      ctx.object,
      'current-context',
      'is not set and no context was chosen',
      `set current-context, or choose a context: ${names.join(', ') || '(the file has none)'}`,
      ErrorCodes.MISSING_FIELD,
    );
  }
  const context = findEntry(ctx, 'contexts', contexts, name);
  if (!context) {
    throw configError(
      ctx.object,
      opts.context ? 'contexts' : 'current-context',
      `there is no context named ${JSON.stringify(name)}`,
      `choose one of: ${names.join(', ') || '(the file has none)'}`,
      ErrorCodes.NOT_FOUND,
    );
  }
  const c = context.reader.object('context', { required: true });
  context.reader.done();
  const clusterName = c?.string('cluster', { required: true, fix: 'name one of the clusters' });
  const userName = c?.string('user');
  const namespace = c?.string('namespace');
  c?.ignore('extensions');
  c?.done();
  ctx.throwIfAny();
  const cluster = findEntry(ctx, 'clusters', clusters, clusterName ?? '');
  if (!cluster) {
    throw configError(
      ctx.object,
      `contexts[${context.index}].context.cluster`,
      `there is no cluster named ${JSON.stringify(clusterName)}`,
      `name one of: ${entryNames(clusters).join(', ') || '(the file has none)'}`,
      ErrorCodes.NOT_FOUND,
    );
  }
  let user: Entry | undefined;
  if (userName) {
    user = findEntry(ctx, 'users', users, userName);
    if (!user) {
      throw configError(
        ctx.object,
        `contexts[${context.index}].context.user`,
        `there is no user named ${JSON.stringify(userName)}`,
        `name one of: ${entryNames(users).join(', ') || '(the file has none)'}`,
        ErrorCodes.NOT_FOUND,
      );
    }
  }
  const base = dirname(resolve(file));
  const tls = await readCluster(ctx, cluster, base);
  const creds = user ? await readUser(ctx, user, base) : {};
  ctx.throwIfAny();
  if (!tls) throw new WeftError(ctx.issues);
  return {
    ...tls,
    ...creds,
    ...(namespace ? { namespace } : {}),
    origin: `kubeconfig ${file} (context ${name})`,
  };
}

async function readDocument(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw configError(
      file,
      '',
      code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(e)})`,
      'check the kubeconfig path',
      ErrorCodes.NOT_FOUND,
    );
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    const line = e instanceof YAMLParseError ? e.linePos?.[0].line : undefined;
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
    throw configError(
      line ? `${file}:${line}` : file,
      '',
      `is not valid YAML: ${message}`,
      'fix the YAML syntax at that line',
      ErrorCodes.MANIFEST_SYNTAX,
    );
  }
  if (doc === null || doc === undefined) {
    throw configError(file, '', 'is empty', 'write a kubeconfig (kubectl config view --raw)');
  }
  return doc;
}

function entryNames(list: readonly { value: unknown }[]): string[] {
  return list.flatMap((e) =>
    isPlainObject(e.value) && typeof e.value['name'] === 'string' ? [e.value['name']] : [],
  );
}

function findEntry(
  ctx: ParseContext,
  key: string,
  list: readonly { value: unknown; path: string }[],
  name: string,
): Entry | undefined {
  const index = list.findIndex((e) => isPlainObject(e.value) && e.value['name'] === name);
  const item = list[index];
  if (!item) return undefined;
  const reader = ObjectReader.at(ctx, `${key}[${index}]`, item.value);
  reader?.string('name');
  return reader ? { index, reader } : undefined;
}

type Tls = Pick<KubeConfig, 'server' | 'ca' | 'insecureSkipTlsVerify' | 'tlsServerName'>;

async function readCluster(
  ctx: ParseContext,
  entry: Entry,
  base: string,
): Promise<Tls | undefined> {
  const c = entry.reader.object('cluster', { required: true });
  entry.reader.done();
  if (!c) return undefined;
  const serverText = c.string('server', {
    required: true,
    fix: 'set server to the API server URL, e.g. https://10.0.0.1:6443',
  });
  const insecure = c.boolean('insecure-skip-tls-verify') ?? false;
  const tlsServerName = c.string('tls-server-name') || undefined;
  const ca = await pemField(c, 'certificate-authority', base);
  if (c.has('proxy-url')) {
    c.raw('proxy-url');
    ctx.report(
      ErrorCodes.UNSUPPORTED_FIELD,
      c.field('proxy-url'),
      'weft connects to the API server directly, not through a proxy',
      'remove proxy-url, or give weft a context that reaches the server directly',
    );
  }
  c.ignore(...CLUSTER_FIELDS_IGNORED);
  c.done();
  if (ca && insecure) {
    ctx.invalid(
      c.field('insecure-skip-tls-verify'),
      'cannot be true together with a certificate authority',
      'remove insecure-skip-tls-verify (preferred), or the certificate authority',
    );
  }
  const server = serverText === undefined ? undefined : serverUrl(c, serverText);
  if (!server) return undefined;
  return {
    server,
    insecureSkipTlsVerify: insecure,
    ...(ca ? { ca } : {}),
    ...(tlsServerName ? { tlsServerName } : {}),
  };
}

function serverUrl(c: ObjectReader, text: string): URL | undefined {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    c.ctx.invalid(
      c.field('server'),
      `${JSON.stringify(text)} is not an https:// URL`,
      'set server to the API server URL, e.g. https://10.0.0.1:6443',
    );
    return undefined;
  }
  return url;
}

async function readUser(
  ctx: ParseContext,
  entry: Entry,
  base: string,
): Promise<Pick<KubeConfig, 'cert' | 'key' | 'token'>> {
  const u = entry.reader.object('user', { required: true });
  entry.reader.done();
  if (!u) return {};
  for (const [key, what] of Object.entries(USER_UNSUPPORTED)) {
    if (!u.has(key)) continue;
    u.raw(key);
    ctx.report(
      ErrorCodes.UNSUPPORTED_FIELD,
      u.field(key),
      `weft does not implement ${what}`,
      TOKEN_FIX,
    );
  }
  const cert = await pemField(u, 'client-certificate', base);
  const key = await pemField(u, 'client-key', base);
  const token = u.string('token') || undefined;
  const tokenFile = u.string('tokenFile') || undefined;
  u.ignore('extensions');
  u.done();
  if ((cert === undefined) !== (key === undefined)) {
    const has = cert ? 'client-certificate' : 'client-key';
    const lacks = cert ? 'client-key' : 'client-certificate';
    ctx.invalid(u.field(has), `is set without ${lacks}`, `set ${lacks} (or ${lacks}-data) too`);
  }
  if (token && tokenFile) {
    ctx.invalid(u.field('tokenFile'), 'is set together with token', 'keep only one of the two');
  }
  const source = token
    ? staticToken(token)
    : tokenFile
      ? new FileToken(resolve(base, tokenFile), 'check tokenFile in the kubeconfig')
      : undefined;
  return {
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(source ? { token: source } : {}),
  };
}

/** `KEY` (a file path, relative to the kubeconfig) or `KEY-data` (base64 of PEM), never both. */
async function pemField(r: ObjectReader, key: string, base: string): Promise<Buffer | undefined> {
  const path = r.string(key) || undefined;
  const data = r.string(`${key}-data`) || undefined;
  if (path && data) {
    r.ctx.invalid(r.field(key), `is set together with ${key}-data`, 'keep only one of the two');
    return undefined;
  }
  if (data) {
    const compact = data.replace(/\s+/g, '');
    const pem = /^[A-Za-z0-9+/]*={0,2}$/.test(compact) ? Buffer.from(compact, 'base64') : undefined;
    if (!pem || !pem.includes('-----BEGIN')) {
      r.ctx.invalid(
        r.field(`${key}-data`),
        pem ? 'is base64 but not of a PEM block' : 'is not valid base64',
        'set it to the base64 of the PEM file, e.g. `base64 -w0 FILE`',
      );
      return undefined;
    }
    return pem;
  }
  if (!path) return undefined;
  const full = resolve(base, path);
  try {
    const pem = await readFile(full);
    if (pem.includes('-----BEGIN')) return pem;
    r.ctx.invalid(r.field(key), `${full} holds no PEM block`, 'point it at a PEM file');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    r.ctx.report(
      ErrorCodes.NOT_FOUND,
      r.field(key),
      `${full} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`,
      "check the path (a relative path is read from the kubeconfig's directory)",
    );
  }
  return undefined;
}
