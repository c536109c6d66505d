// The Kubernetes source's connection: HTTPS with the cluster's CA and a client
// certificate read from a kubeconfig (certificates made by openssl for the
// run), a wrong CA refused with the fix named, and a bearer token re-read
// from its file when it is rotated.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileToken, type KubeConfig } from '../../src/sources/kubernetes/config.js';
import { KubeError } from '../../src/sources/kubernetes/errors.js';
import { loadKubeconfig } from '../../src/sources/kubernetes/kubeconfig.js';
import { RESOURCES } from '../../src/sources/kubernetes/resources.js';
import { watchKubernetes } from '../../src/sources/kubernetes/source.js';
import {
  converged,
  expectedCluster,
  FAST,
  httpConfig,
  pod,
  seed,
  startServer,
  startSource,
  waitFor,
} from '../support/kube-harness.js';

function tempDir(t: test.TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-kube-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function pki(
  dir: string,
  prefix = '',
): Record<'ca' | 'serverKey' | 'serverCert' | 'clientKey' | 'clientCert', Buffer> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const p = (n: string) => `${prefix}${n}`;
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=weft-test-ca',
  ]);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [who, cn] of [
    ['server', '127.0.0.1'],
    ['client', 'weft-agent'],
  ] as const) {
    openssl(dir, [
      'req',
      ...ec,
      '-keyout',
      p(`${who}.key`),
      '-out',
      p(`${who}.csr`),
      '-subj',
      `/CN=${cn}`,
    ]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      p(`${who}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${who}.crt`),
      '-days',
      '1',
      ...(who === 'server' ? ['-extfile', 'san.ext'] : []),
    ]);
  }
  const read = (n: string) => readFileSync(join(dir, p(n)));
  return {
    ca: read('ca.crt'),
    serverKey: read('server.key'),
    serverCert: read('server.crt'),
    clientKey: read('client.key'),
    clientCert: read('client.crt'),
  };
}

test('kube source over HTTPS: CA from a file, client certificate from data, as a kubeconfig gives them', async (t) => {
  const dir = tempDir(t);
  const k = pki(dir);
  const server = await startServer(t, {
    tls: { key: k.serverKey, cert: k.serverCert, clientCa: k.ca },
  });
  seed(server, 5);
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'test',
      clusters: [
        { name: 'test', cluster: { server: server.url, 'certificate-authority': 'ca.crt' } },
      ],
      users: [
        {
          name: 'agent',
          user: {
            'client-certificate-data': k.clientCert.toString('base64'),
            'client-key-data': k.clientKey.toString('base64'),
          },
        },
      ],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'agent' } }],
    }),
  );
  const h = await startSource(t, server, {}, await loadKubeconfig(file));
  assert.deepEqual(h.latest(), expectedCluster(server));
  server.create('pods', pod('prod', 'tls', '10.7.0.1'));
  await converged(h);
  assert.deepEqual(h.errors, []);
});

test('kube source over HTTPS: a CA that did not sign the server is refused, with the fix', async (t) => {
  const dir = tempDir(t);
  const k = pki(dir);
  const other = pki(dir, 'other-');
  const server = await startServer(t, { tls: { key: k.serverKey, cert: k.serverCert } });
  const config: KubeConfig = {
    server: new URL(server.url),
    ca: other.ca,
    insecureSkipTlsVerify: false,
    origin: 'test',
  };
  const errors: unknown[] = [];
  await assert.rejects(
    watchKubernetes(
      config,
      () => assert.fail('no cluster without a trusted server'),
      (e) => errors.push(e),
      {
        ...FAST,
        signal: AbortSignal.timeout(800),
      },
    ),
    { name: 'TimeoutError' },
  );
  const tls = errors.filter(
    (e): e is KubeError => e instanceof KubeError && e.code === 'WEFT_KUBE_CONNECTION',
  );
  assert.ok(tls.length >= 5, 'every resource says so');
  assert.match(
    tls[0]?.message ?? '',
    /certificate.*fix: give the CA that signed the server certificate/,
  );
  assert.equal(server.requests.length, 0, 'not one request got through');
});

test('kube source: a bearer token file is re-read when rotated; a refused token is said with the fix', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'token');
  writeFileSync(path, 'one\n');
  const server = await startServer(t, { token: 'one' });
  seed(server, 5);
  const h = await startSource(t, server, {}, { ...httpConfig(server), token: new FileToken(path) });
  await waitFor('every watch to be open', () => server.openWatches() === RESOURCES.length);
  // Rotation: the kubelet swaps in a new file; the server accepts only the new token.
  writeFileSync(join(dir, 'token.new'), 'two\n');
  renameSync(join(dir, 'token.new'), path);
  server.token = 'two';
  server.dropWatches();
  server.create('pods', pod('prod', 'after-rotation', '10.8.0.1'));
  await converged(h);
  assert.deepEqual(
    h.errors.filter((e) => e instanceof KubeError && e.code === 'WEFT_KUBE_AUTH'),
    [],
  );
  // A token the server no longer takes.
  await waitFor('every watch to be open again', () => server.openWatches() === RESOURCES.length);
  server.token = 'three';
  server.dropWatches('pods');
  await waitFor('a 401', () => h.errors.some((e) => e instanceof KubeError && e.status === 401));
  const refused = h.errors.find((e): e is KubeError => e instanceof KubeError && e.status === 401);
  assert.match(
    refused?.message ?? '',
    /^pods: watch from resourceVersion \d+: 401 Unauthorized: .*fix: the token/,
  );
  writeFileSync(path, 'three\n');
  server.create('pods', pod('prod', 'after-fix', '10.8.0.2'));
  await converged(h);
});
