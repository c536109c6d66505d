import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ExecError } from '../host/exec.js';
import { runWeft } from '../testing/cli.js';
import { reportError } from './main.js';
import { UsageError } from './output.js';

const examples = join(
  import.meta.dirname ?? new URL('.', import.meta.url).pathname,
  '../../examples',
);

const run = runWeft;

test('policy matrix -o json keeps the public contract', async () => {
  const r = await run(
    'policy',
    'matrix',
    '-f',
    examples,
    '--port',
    '5432/TCP',
    '--port',
    '80',
    '-o',
    'json',
  );
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(r.out) as {
    probes: { port: number; protocol: string; matrix: Record<string, Record<string, boolean>> }[];
  };
  assert.deepEqual(
    json.probes.map((p) => [p.port, p.protocol]),
    [
      [5432, 'TCP'],
      [80, 'TCP'],
    ],
  );
  const db = json.probes[0]?.matrix;
  const pods = ['shop/api', 'shop/db', 'shop/frontend', 'tools/loadgen'];
  assert.deepEqual(Object.keys(db ?? {}), pods);
  for (const from of pods) assert.deepEqual(Object.keys(db?.[from] ?? {}), pods);
  // examples/policies.yaml: only the API reaches the database, and the Admin guard keeps tools out.
  assert.equal(db?.['shop/api']?.['shop/db'], true);
  assert.equal(db?.['shop/frontend']?.['shop/db'], false);
  assert.equal(db?.['tools/loadgen']?.['shop/db'], false);
  assert.equal(
    json.probes[1]?.matrix['tools/loadgen']?.['shop/frontend'],
    true,
    'frontend open on http',
  );
});

test('policy matrix without --port probes every declared port', async () => {
  const r = await run('policy', 'matrix', '-f', examples, '-o', 'json');
  const json = JSON.parse(r.out) as { probes: { port: number; protocol: string }[] };
  assert.deepEqual(
    json.probes.map((p) => `${p.port}/${p.protocol}`),
    ['80/TCP', '5432/TCP', '7000/UDP', '8080/TCP', '9090/TCP'],
  );
});

test('policy trace names the deciding rule, in text and JSON', async () => {
  const text = await run(
    'policy',
    'trace',
    '-f',
    examples,
    '--from',
    'tools/loadgen',
    '--to',
    'shop/db',
    '--port',
    '5432/TCP',
  );
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /verdict\s+DENIED/);
  assert.match(text.out, /ClusterNetworkPolicy protect-databases .*"deny-everyone-else"/);
  const json = await run(
    'policy',
    'trace',
    '-f',
    examples,
    '--from',
    'shop/frontend',
    '--to',
    'shop/api',
    '--port',
    'http',
    '-o',
    'json',
  );
  const t = JSON.parse(json.out) as {
    verdict: string;
    port: number;
    ingress: { stage: string; allowedBy: { policy: { name: string } }[] };
  };
  assert.equal(t.verdict, 'allowed');
  assert.equal(t.port, 8080, 'the named port resolved against shop/api');
  assert.equal(t.ingress.stage, 'networkpolicy');
  assert.equal(t.ingress.allowedBy[0]?.policy.name, 'api-from-frontend');
});

test('errors go to stderr with a non-zero exit and a fix', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {podSelector: {}, ingres: []}\n',
  );
  const r = await run('policy', 'matrix', '-f', bad);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  const svc = (name: string) =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec: {clusterIP: 10.96.0.9, ports: [{port: 80}]}\n`;
  const services = join(dir, 'services.yaml');
  writeFileSync(services, `${svc('a')}---\n${svc('b')}`);
  const taken = await run('policy', 'lint', '-f', services);
  assert.equal(taken.code, 1);
  assert.match(
    taken.err,
    /Service default\/b .*services\.yaml:6\): spec\.clusterIP: 10\.96\.0\.9 is also the ClusterIP of Service default\/a .*services\.yaml:1\)/,
  );
  assert.match(
    r.err,
    /NetworkPolicy default\/x .*bad\.yaml:1.*spec\.ingres: unknown field.*did you mean "ingress"/,
  );
  const usage = await run(
    'policy',
    'trace',
    '-f',
    examples,
    '--from',
    'shop/nope',
    '--to',
    'shop/db',
    '--port',
    '80',
  );
  assert.equal(usage.code, 2);
  assert.match(usage.err, /no such pod/);
  assert.equal((await run('policy', 'matrix', '-f', examples, '--port', '99999/TCP')).code, 2);
  assert.equal((await run('nonsense')).code, 2);
});

test('policy lint exits 1 on warnings and names the fix', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'm.yaml'),
    'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: web}}\nspec: {containers: [{name: c, image: i}]}\n---\n' +
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: typo}\nspec: {podSelector: {matchLabels: {app: wbe}}}\n',
  );
  const r = await run('policy', 'lint', '-f', dir);
  assert.equal(r.code, 1);
  assert.match(r.out, /WEFT_LINT|selects no pod|no pod/i);
  assert.equal((await run('policy', 'lint', '-f', examples)).code, 0);
});

test('weft cni config prints the conflist with its negotiable versions; weft agent --help documents every flag', async () => {
  const r = await run('cni', 'config', '--mtu', '1400');
  assert.equal(r.code, 0, r.err);
  const conf = JSON.parse(r.out) as {
    cniVersion: string;
    cniVersions: string[];
    name: string;
    plugins: { type: string; mtu?: number }[];
  };
  assert.equal(conf.cniVersion, '1.0.0');
  assert.deepEqual(conf.cniVersions, ['0.4.0', '1.0.0', '1.1.0']);
  assert.equal(conf.plugins[0]?.type, 'weft');
  assert.equal(conf.plugins[0]?.mtu, 1400);
  assert.equal((await run('cni', 'config', '--mtu', '10')).code, 2);
  const help = await run('agent', '--help');
  assert.equal(help.code, 0);
  for (const flag of [
    '--node-name',
    '--pod-cidr',
    '--source',
    '--state-dir',
    '--socket',
    '--mtu',
    '--health',
    '--observe',
    '--ui',
  ]) {
    assert.ok(help.out.includes(flag), `agent --help mentions ${flag}`);
  }
  assert.equal((await run('agent')).code, 2, 'agent without --node-name is a usage error');
  const badUi = await run(
    'agent',
    '--node-name',
    'n1',
    '--pod-cidr',
    '10.0.0.0/24',
    '--ui',
    '9964',
  );
  assert.equal(badUi.code, 2);
  assert.match(badUi.err, /--ui 9964: not HOST:PORT/);
});

test('a failure prints the code it carries beside its stack; a usage error its fix', () => {
  const printed = (e: unknown) => {
    let err = '';
    const code = reportError(e, {
      out: () => undefined,
      write: () => undefined,
      err: (t) => (err += t),
    });
    return { code, err };
  };
  assert.deepEqual(printed(new UsageError('-o yaml: unknown output format', 'use -o json')), {
    code: 2,
    err: 'weft: -o yaml: unknown output format\n  fix: use -o json',
  });
  const exec = printed(new ExecError('ip link add x', 2, 'RTNETLINK answers: File exists\n'));
  assert.equal(exec.code, 70);
  assert.match(
    exec.err,
    /^weft: internal error \[WEFT_EXEC_FAILED\]: ExecError: ip link add x failed \(exit 2\): RTNETLINK answers: File exists\n {4}at /,
  );
  const bug = printed(new TypeError('x is undefined'));
  assert.equal(bug.code, 70);
  assert.match(bug.err, /^weft: internal error: TypeError: x is undefined\n {4}at /);
});
