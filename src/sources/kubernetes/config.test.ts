import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeftError, type Issue } from '../../core/errors.js';
import { inClusterConfig, resolveKubeConfig } from './config.js';
import { loadKubeconfig } from './kubeconfig.js';

const CA = '-----BEGIN CERTIFICATE-----\nY2E=\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\na2V5\n-----END PRIVATE KEY-----\n';
const b64 = (s: string) => Buffer.from(s).toString('base64');

function tempDir(t: test.TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A kubeconfig with two contexts: `lab` (client certificate, data fields) and `ops` (token). */
function kubeconfig(
  over: { cluster?: object; user?: object; current?: string | null } = {},
): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    ...(over.current === null ? {} : { 'current-context': over.current ?? 'lab' }),
    clusters: [
      {
        name: 'lab',
        cluster: over.cluster ?? {
          server: 'https://10.0.0.1:6443',
          'certificate-authority-data': b64(CA),
        },
      },
      {
        name: 'ops',
        cluster: { server: 'https://ops.example:443', 'insecure-skip-tls-verify': true },
      },
    ],
    users: [
      {
        name: 'admin',
        user: over.user ?? {
          'client-certificate-data': b64(CERT),
          'client-key-data': b64(KEY),
        },
      },
      { name: 'robot', user: { token: 'abc.def' } },
    ],
    contexts: [
      { name: 'lab', context: { cluster: 'lab', user: 'admin', namespace: 'prod' } },
      { name: 'ops', context: { cluster: 'ops', user: 'robot' } },
    ],
  };
  return JSON.stringify(doc, null, 2);
}

function write(dir: string, text: string, name = 'config'): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function issueOf(p: Promise<unknown>): Promise<Issue> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof WeftError, `expected a WeftError, got ${String(e)}`);
    assert.equal(e.issues.length, 1, e.message);
    return e.issues[0] as Issue;
  }
  assert.fail('expected an error');
}

test('kubeconfig: the current context with CA and client certificate as data', async (t) => {
  const file = write(tempDir(t), kubeconfig());
  const c = await loadKubeconfig(file);
  assert.equal(c.server.href, 'https://10.0.0.1:6443/');
  assert.equal(c.ca?.toString(), CA);
  assert.equal(c.cert?.toString(), CERT);
  assert.equal(c.key?.toString(), KEY);
  assert.equal(c.insecureSkipTlsVerify, false);
  assert.equal(c.token, undefined);
  assert.equal(c.namespace, 'prod');
  assert.equal(c.origin, `kubeconfig ${file} (context lab)`);
});

test('kubeconfig: a named context with a token and insecure-skip-tls-verify', async (t) => {
  const c = await loadKubeconfig(write(tempDir(t), kubeconfig()), { context: 'ops' });
  assert.equal(c.server.host, 'ops.example');
  assert.equal(c.insecureSkipTlsVerify, true);
  assert.equal(await c.token?.token(), 'abc.def');
  assert.equal(c.cert, undefined);
});

test('kubeconfig: file paths are read relative to the kubeconfig, tokenFile re-read when it changes', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'pki'));
  write(dir, CA, 'pki/ca.crt');
  write(dir, 'first\n', 'token');
  const file = write(
    dir,
    kubeconfig({
      cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority': 'pki/ca.crt' },
      user: { tokenFile: 'token' },
    }),
  );
  const c = await loadKubeconfig(file);
  assert.equal(c.ca?.toString(), CA);
  assert.equal(await c.token?.token(), 'first');
  write(dir, 'second-token\n', 'token.new');
  renameSync(join(dir, 'token.new'), join(dir, 'token'));
  assert.equal(await c.token?.token(), 'second-token');
});

const BAD: readonly {
  name: string;
  text: (dir: string) => string;
  context?: string;
  want: { code?: string; field?: string; message: RegExp; fix?: RegExp };
}[] = [
  {
    name: 'not YAML',
    text: () => 'clusters: [\n  - name: x\n',
    want: { code: 'WEFT_MANIFEST_SYNTAX', message: /is not valid YAML/ },
  },
  {
    name: 'no current-context and none chosen',
    text: () => kubeconfig({ current: null }),
    want: {
      code: 'WEFT_MISSING_FIELD',
      field: 'current-context',
      message: /not set/,
      fix: /lab, ops/,
    },
  },
  {
    name: 'an unknown context',
    text: () => kubeconfig(),
    context: 'prod',
    want: {
      code: 'WEFT_NOT_FOUND',
      field: 'contexts',
      message: /no context named "prod"/,
      fix: /lab, ops/,
    },
  },
  {
    name: 'a server that is not a URL',
    text: () => kubeconfig({ cluster: { server: '10.0.0.1:6443' } }),
    want: {
      field: 'clusters[0].cluster.server',
      message: /not an https:\/\/ URL/,
      fix: /https:\/\//,
    },
  },
  {
    name: 'no server',
    text: () => kubeconfig({ cluster: {} }),
    want: { code: 'WEFT_MISSING_FIELD', field: 'clusters[0].cluster.server', message: /required/ },
  },
  {
    name: 'CA data that is not base64',
    text: () =>
      kubeconfig({
        cluster: { server: 'https://a:1', 'certificate-authority-data': 'not base64!' },
      }),
    want: {
      field: 'clusters[0].cluster.certificate-authority-data',
      message: /not valid base64/,
      fix: /base64 -w0/,
    },
  },
  {
    name: 'CA data that is base64 of no PEM',
    text: () =>
      kubeconfig({
        cluster: { server: 'https://a:1', 'certificate-authority-data': b64('hello') },
      }),
    want: {
      field: 'clusters[0].cluster.certificate-authority-data',
      message: /not of a PEM block/,
    },
  },
  {
    name: 'a CA file that does not exist',
    text: () =>
      kubeconfig({ cluster: { server: 'https://a:1', 'certificate-authority': 'nope/ca.crt' } }),
    want: {
      code: 'WEFT_NOT_FOUND',
      field: 'clusters[0].cluster.certificate-authority',
      message: /nope\/ca\.crt does not exist/,
      fix: /relative path/,
    },
  },
  {
    name: 'a CA and insecure-skip-tls-verify',
    text: () =>
      kubeconfig({
        cluster: {
          server: 'https://a:1',
          'certificate-authority-data': b64(CA),
          'insecure-skip-tls-verify': true,
        },
      }),
    want: {
      field: 'clusters[0].cluster.insecure-skip-tls-verify',
      message: /together with a certificate authority/,
    },
  },
  {
    name: 'a misspelt field',
    text: () =>
      kubeconfig({ cluster: { server: 'https://a:1', 'certificate-authority-date': b64(CA) } }),
    want: {
      code: 'WEFT_UNKNOWN_FIELD',
      field: 'clusters[0].cluster.certificate-authority-date',
      message: /unknown field/,
      fix: /did you mean "certificate-authority-data"/,
    },
  },
  {
    name: 'a client certificate without its key',
    text: () => kubeconfig({ user: { 'client-certificate-data': b64(CERT) } }),
    want: {
      field: 'users[0].user.client-certificate',
      message: /without client-key/,
      fix: /client-key/,
    },
  },
  {
    name: 'an exec plugin',
    text: () =>
      kubeconfig({
        user: { exec: { command: 'aws', apiVersion: 'client.authentication.k8s.io/v1' } },
      }),
    want: {
      code: 'WEFT_UNSUPPORTED_FIELD',
      field: 'users[0].user.exec',
      message: /exec credential plugin/,
      fix: /kubectl create token/,
    },
  },
];

for (const c of BAD) {
  test(`kubeconfig: ${c.name} is a clear error`, async (t) => {
    const file = write(tempDir(t), c.text(''));
    const issue = await issueOf(loadKubeconfig(file, c.context ? { context: c.context } : {}));
    assert.match(issue.object, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    if (c.want.code) assert.equal(issue.code, c.want.code);
    if (c.want.field) assert.equal(issue.field, c.want.field);
    assert.match(issue.message, c.want.message);
    if (c.want.fix) assert.match(issue.fix ?? '', c.want.fix);
  });
}

test('kubeconfig: a missing file names the path', async (t) => {
  const file = join(tempDir(t), 'absent');
  const issue = await issueOf(loadKubeconfig(file));
  assert.deepEqual(
    [issue.code, issue.object, issue.message],
    ['WEFT_NOT_FOUND', file, 'does not exist'],
  );
});

function serviceAccount(
  t: test.TestContext,
  files: { token?: string; ca?: string; namespace?: string },
): string {
  const dir = tempDir(t);
  if (files.token !== undefined) write(dir, files.token, 'token');
  if (files.ca !== undefined) write(dir, files.ca, 'ca.crt');
  if (files.namespace !== undefined) write(dir, files.namespace, 'namespace');
  return dir;
}

const POD_ENV = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

test('in-cluster: server from the environment, CA, namespace, and a token re-read when rotated', async (t) => {
  const dir = serviceAccount(t, { token: 'tok-1\n', ca: CA, namespace: 'weft-system' });
  const c = await inClusterConfig({ env: POD_ENV, dir });
  assert.equal(c.server.href, 'https://10.96.0.1/'); // 443 is https's default port
  assert.equal(c.ca?.toString(), CA);
  assert.equal(c.namespace, 'weft-system');
  assert.equal(await c.token?.token(), 'tok-1');
  // The kubelet writes the new token beside the old one and swaps it in.
  write(dir, 'tok-2', 'token.tmp');
  renameSync(join(dir, 'token.tmp'), join(dir, 'token'));
  assert.equal(await c.token?.token(), 'tok-2');
});

test('in-cluster: an IPv6 service host is bracketed', async (t) => {
  const dir = serviceAccount(t, { token: 't', ca: CA });
  const c = await inClusterConfig({
    env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' },
    dir,
  });
  assert.equal(c.server.host, '[fd00::1]:6443');
  assert.equal(c.namespace, undefined);
});

test('in-cluster: what is missing is named, with the fix', async (t) => {
  const noHost = await issueOf(inClusterConfig({ env: {}, dir: '/nonexistent' }));
  assert.deepEqual([noHost.code, noHost.field], ['WEFT_MISSING_FIELD', 'KUBERNETES_SERVICE_HOST']);
  assert.match(noHost.fix ?? '', /run the agent in a pod/);
  const badPort = await issueOf(
    inClusterConfig({ env: { ...POD_ENV, KUBERNETES_SERVICE_PORT: 'https' } }),
  );
  assert.equal(badPort.field, 'KUBERNETES_SERVICE_PORT');
  const noToken = serviceAccount(t, { ca: CA });
  const tok = await issueOf(inClusterConfig({ env: POD_ENV, dir: noToken }));
  assert.deepEqual(
    [tok.code, tok.object, tok.message],
    ['WEFT_NOT_FOUND', join(noToken, 'token'), 'does not exist'],
  );
  assert.match(tok.fix ?? '', /automountServiceAccountToken/);
  const emptyToken = serviceAccount(t, { ca: CA, token: '\n' });
  assert.match(
    (await issueOf(inClusterConfig({ env: POD_ENV, dir: emptyToken }))).message,
    /is empty/,
  );
  const noCa = serviceAccount(t, { token: 't' });
  const ca = await issueOf(inClusterConfig({ env: POD_ENV, dir: noCa }));
  assert.deepEqual([ca.object, ca.message], [join(noCa, 'ca.crt'), 'does not exist']);
});

test('resolveKubeConfig: in a pod the service account; else KUBECONFIG (one file) or ~/.kube/config', async (t) => {
  const home = tempDir(t);
  const none = await issueOf(resolveKubeConfig({ env: {}, home }));
  assert.equal(none.object, join(home, '.kube', 'config'));
  assert.match(none.fix ?? '', /--kubeconfig/);
  mkdirSync(join(home, '.kube'));
  write(home, kubeconfig(), '.kube/config');
  assert.equal((await resolveKubeConfig({ env: {}, home })).server.host, '10.0.0.1:6443');
  const other = write(home, kubeconfig(), 'other');
  const viaEnv = await resolveKubeConfig({ env: { KUBECONFIG: other }, home, context: 'ops' });
  assert.equal(viaEnv.origin, `kubeconfig ${other} (context ops)`);
  const two = await issueOf(resolveKubeConfig({ env: { KUBECONFIG: `${other}:${other}` }, home }));
  assert.equal(two.field, 'KUBECONFIG');
  // A pod's environment without its service account files: the in-cluster error, not a kubeconfig's.
  const pod = await issueOf(resolveKubeConfig({ env: POD_ENV, home }));
  assert.match(pod.object, /serviceaccount/);
});
