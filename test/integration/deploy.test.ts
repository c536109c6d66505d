// weft's deployment artifacts: the chart renders and every object passes the
// Kubernetes API schema (scripts/validate-deploy.mjs, with the real helm), the
// checker itself rejects broken objects, and the rendered DaemonSet and RBAC
// give the agent what it needs and nothing more. Also: the image's package
// list is the one file the Dockerfile reads, and install-cni really lays out a
// plugin the runtime can execute.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { isMap, parseAllDocuments, parseDocument, type YAMLMap } from 'yaml';
import { AGENT_HELP } from '../../src/cli/agent.js';
import { parseAllowClients } from '../../src/cli/host-port.js';
import { serviceProxyConfig } from '../../src/cli/service-proxy-flags.js';
import { formatCidr } from '../../src/core/net/cidr.js';
import { repoRoot } from '../../src/testing/paths.js';
import { AgentRoutes } from '../../src/api/routes.js';

const root = repoRoot();
const exec = promisify(execFile);

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function manifest(): Obj[] {
  const text = readFileSync(join(root, 'deploy/manifests/weft.yaml'), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

function one(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o['kind'] === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as Obj;
}

async function validate(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await exec('node', ['scripts/validate-deploy.mjs', ...args], { cwd: root });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

test('the chart lints, renders and validates; the manifest is its default render', async () => {
  const r = await validate([]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /checked against Kubernetes 1\.33: all valid/);
});

test('the schema check rejects unknown fields, missing fields and wrong types', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-deploy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ds = one(manifest(), 'DaemonSet');
  const agent = ds['spec']['template']['spec']['containers'][0];
  agent['imagePullPolicyy'] = 'Always';
  agent['securityContext']['privilegd'] = true;
  delete ds['spec']['template']['spec']['initContainers'][0]['name'];
  ds['spec']['template']['spec']['hostNetwork'] = 'yes';
  const cm = { apiVersion: 'v1', kind: 'ConfigMapp', metadata: { name: 'x' } };
  const file = join(dir, 'broken.yaml');
  writeFileSync(file, `${JSON.stringify(ds)}\n---\n${JSON.stringify(cm)}\n`);
  const r = await validate(['--check', file]);
  assert.equal(r.code, 1, r.out);
  const spec = 'DaemonSet kube-system/weft spec.template.spec';
  for (const expected of [
    `${spec}.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy"`,
    `${spec}.containers[0].securityContext.privilegd: unknown field "privilegd"`,
    `${spec}.initContainers[0]: must have required property name`,
    `${spec}.hostNetwork: must be boolean`,
    'ConfigMapp x apiVersion: no v1 ConfigMapp in the Kubernetes 1.33 API',
  ]) {
    assert.ok(r.out.includes(expected), `expected «${expected}» in:\n${r.out}`);
  }
});

test('RBAC: exactly the reads the agent needs, no wildcard, one narrow write', () => {
  const objects = manifest();
  for (const o of objects.filter((x) => x['kind'] === 'ClusterRole' || x['kind'] === 'Role')) {
    for (const rule of o['rules'] as Obj[]) {
      for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames']) {
        assert.ok(!(rule[field] ?? []).includes('*'), `${o['kind']} ${field} has a wildcard`);
      }
    }
  }
  const grants = (o: Obj) =>
    (o['rules'] as Obj[])
      .flatMap((r) =>
        (r['apiGroups'] as string[]).flatMap((g) =>
          (r['resources'] as string[]).flatMap((res) =>
            (r['verbs'] as string[]).map(
              (v) => `${g}/${res} ${v}${r['resourceNames'] ? ` ${r['resourceNames']}` : ''}`,
            ),
          ),
        ),
      )
      .sort();
  const read = (gr: string) => ['get', 'list', 'watch'].map((v) => `${gr} ${v}`);
  assert.deepEqual(
    grants(one(objects, 'ClusterRole')),
    [
      ...read('/namespaces'),
      ...read('/nodes'),
      '/nodes patch',
      ...read('/pods'),
      ...read('/services'),
      ...read('discovery.k8s.io/endpointslices'),
      ...read('networking.k8s.io/networkpolicies'),
      ...read('policy.networking.k8s.io/clusternetworkpolicies'),
    ].sort(),
  );
  assert.deepEqual(grants(one(objects, 'Role')), ['apps/daemonsets get weft']);
  const sa = one(objects, 'ServiceAccount')['metadata'];
  for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
    const b = one(objects, kind);
    assert.deepEqual(b['subjects'], [
      { kind: 'ServiceAccount', name: sa['name'], namespace: sa['namespace'] },
    ]);
  }
  assert.equal(one(objects, 'DaemonSet')['spec']['template']['spec']['serviceAccountName'], 'weft');
});

/** `--flag=value` arguments → {flag: value}. */
function flags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const m = /^--([a-z-]+)=(.*)$/.exec(a);
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

test('the DaemonSet: host network, every taint, probes on the health flag, graceful rollout', () => {
  const ds = one(manifest(), 'DaemonSet');
  const pod = ds['spec']['template']['spec'];
  assert.equal(pod['hostNetwork'], true);
  assert.equal(pod['priorityClassName'], 'system-node-critical');
  assert.deepEqual(pod['tolerations'], [{ operator: 'Exists' }]);
  assert.deepEqual(ds['spec']['updateStrategy'], {
    type: 'RollingUpdate',
    rollingUpdate: { maxUnavailable: 1 },
  });
  assert.equal(pod['terminationGracePeriodSeconds'], 30);
  const agent = (pod['containers'] as Obj[]).find((c) => c['name'] === 'agent') as Obj;
  // Privileged for a writable /proc/sys (see the template's comment), but nothing more.
  assert.deepEqual(agent['securityContext'], { privileged: true, readOnlyRootFilesystem: true });
  assert.deepEqual(pod['securityContext'], { seccompProfile: { type: 'RuntimeDefault' } });
  assert.ok(agent['resources']['requests']['cpu'] && agent['resources']['requests']['memory']);
  assert.equal(agent['resources']['limits']['memory'], '1536Mi', 'a memory limit');
  assert.ok(
    (agent['volumeMounts'] as Obj[]).some((m) => m['mountPath'] === '/tmp'),
    'scratch space under a read-only root',
  );
  const args = agent['args'] as string[];
  assert.equal(args[0], 'agent');
  for (const name of Object.keys(flags(args))) {
    assert.ok(AGENT_HELP.includes(`--${name} `), `weft agent has no --${name}`);
  }
  const f = flags(args);
  assert.equal(f['node-name'], '$(NODE_NAME)');
  assert.deepEqual(agent['env'][0], {
    name: 'NODE_NAME',
    valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } },
  });
  assert.equal(f['source'], 'kubernetes');
  const [host, port] = (f['health'] as string).split(':');
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    assert.deepEqual(agent[probe]['httpGet'], {
      host,
      path: AgentRoutes.healthz.path,
      port: Number(port),
    });
  }
});

test('the DaemonSet mounts what the agent and its hooks use, at the paths they are given', () => {
  const pod = one(manifest(), 'DaemonSet')['spec']['template']['spec'];
  const hostPath = (volume: string) =>
    (pod['volumes'] as Obj[]).find((v) => v['name'] === volume)?.['hostPath']?.['path'];
  const mounts = (c: Obj) =>
    new Map((c['volumeMounts'] as Obj[]).map((m) => [m['mountPath'] as string, m]));
  const agent = (pod['containers'] as Obj[])[0] as Obj;
  const am = mounts(agent);
  const f = flags(agent['args']);
  const hostDir = (path: string) => hostPath(am.get(path)?.['name']);
  // State and socket: the same path on the host and in the container (the
  // CNI plugin on the host dials the socket path the agent listens on).
  assert.equal(hostDir(f['state-dir'] as string), f['state-dir']);
  assert.equal(hostDir(dirname(f['socket'] as string)), dirname(f['socket'] as string));
  // Every directory where common runtimes put pod namespaces, at the same path, propagated.
  for (const dir of [
    '/run/netns',
    '/run/containerd/io.containerd.grpc.v1.cri/netns',
    '/run/docker/netns',
  ]) {
    assert.equal(hostDir(dir), dir);
    assert.equal(am.get(dir)?.['mountPropagation'], 'HostToContainer', dir);
  }
  // The hooks' CNI config dir is the host's /etc/cni/net.d.
  const post = agent['lifecycle']['postStart']['exec']['command'] as string[];
  const pre = agent['lifecycle']['preStop']['exec']['command'] as string[];
  assert.deepEqual(post.slice(0, 3), ['node', '/opt/weft/dist/deploy/cni-conf.js', 'install']);
  assert.deepEqual(pre.slice(0, 3), [
    'node',
    '/opt/weft/dist/deploy/cni-conf.js',
    'remove-if-uninstalled',
  ]);
  for (const hook of [post, pre]) {
    assert.equal(hostDir(flags(hook)['conf-dir'] as string), '/etc/cni/net.d');
  }
  assert.equal(flags(post)['socket'], f['socket']);
  assert.equal(flags(post)['mtu'], f['mtu']);
  assert.equal(flags(pre)['daemonset'], 'kube-system/weft');
  // install-cni writes into the host's /opt/cni/bin, at the path it is given.
  const init = (pod['initContainers'] as Obj[])[0] as Obj;
  const binArg = (init['command'] as string[]).at(-1) as string;
  assert.equal(hostPath(mounts(init).get(binArg)?.['name']), '/opt/cni/bin');
  assert.deepEqual(init['securityContext'], {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  });
});

test('the image packages: one list, read by the Dockerfile and the CI check', () => {
  const list = readFileSync(join(root, 'deploy/image-packages.txt'), 'utf8');
  const names = list
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  assert.deepEqual(names, [
    'nftables',
    'iproute2',
    'conntrack',
    'bird2',
    'wireguard-tools',
    'tcpdump',
  ]);
  const dockerfile = readFileSync(join(root, 'deploy/Dockerfile'), 'utf8');
  assert.match(dockerfile, /^COPY deploy\/image-packages\.txt \/tmp\/image-packages\.txt$/m);
  const installs = dockerfile.split('\n').filter((l) => /apt-get install/.test(l));
  assert.deepEqual(
    installs.map((l) => l.trim()),
    [
      "&& apt-get install -y --no-install-recommends $(sed -e 's/#.*//' /tmp/image-packages.txt) \\",
    ],
  );
  // No package is named anywhere else in the Dockerfile's instructions.
  const instructions = dockerfile.replace(/^\s*#.*$/gm, '');
  for (const name of names) {
    assert.doesNotMatch(instructions, new RegExp(`\\b${name}\\b`), `${name} in the Dockerfile`);
  }
  const check = readFileSync(join(root, 'scripts/check-image-packages.sh'), 'utf8');
  assert.match(check, /deploy\/image-packages\.txt/);
});

test('install-cni lays out a plugin the runtime can execute, and is idempotent', async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'weft-cni-bin-'));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  const env = { ...process.env, WEFT_CNI_JS: join(root, 'dist/weft-cni.js') };
  const script = join(root, 'deploy/image/install-cni.sh');
  const first = await exec('/bin/sh', [script, bin], { env });
  assert.match(first.stdout, /installed .*\/weft\n/);
  const again = await exec('/bin/sh', [script, bin], { env });
  assert.doesNotMatch(again.stdout, /installed/);
  assert.match(again.stdout, /weft is up to date/);
  // The runtime's view: exec BIN/weft with the CNI env and the config on stdin.
  const child = execFile(join(bin, 'weft'), {
    env: { PATH: '/usr/bin:/bin', CNI_COMMAND: 'VERSION' },
  });
  child.stdin?.end('{"cniVersion":"1.1.0","name":"weft","type":"weft"}');
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stdout);
  const version = JSON.parse(stdout) as { cniVersion: string; supportedVersions: string[] };
  assert.equal(version.cniVersion, '1.1.0');
  assert.ok(version.supportedVersions.includes('1.1.0'));
});

test('every chart value has a comment in values.yaml and a row in docs/install.md', () => {
  const values = parseDocument(readFileSync(join(root, 'deploy/helm/weft/values.yaml'), 'utf8'));
  const docs = readFileSync(join(root, 'docs/install.md'), 'utf8');
  const groups = new Set(['image', 'cni', 'apiServer', 'agent', 'installCni', 'serviceProxy']);
  const keys: string[] = [];
  const walk = (map: YAMLMap, prefix: string) =>
    map.items.forEach((item, i) => {
      const key = `${prefix}${String((item.key as { value: unknown }).value)}`;
      const comment = (item.key as { commentBefore?: string }).commentBefore ?? '';
      const inherited = i === 0 ? (map.commentBefore ?? '') : '';
      assert.ok((comment || inherited).trim(), `values.yaml: ${key} has no comment`);
      if (isMap(item.value) && groups.has(key)) walk(item.value as YAMLMap, `${key}.`);
      else keys.push(key);
    });
  walk(values.contents as YAMLMap, '');
  assert.ok(keys.length >= 20, `only ${keys.length} values found`);
  const rows = new Set([...docs.matchAll(/^\| `([A-Za-z.]+)` +\|/gm)].map((m) => m[1]));
  for (const key of keys) assert.ok(rows.has(key), `docs/install.md: no row for ${key}`);
});

test('allowClients renders one --allow-clients flag that weft agent accepts', async () => {
  const { ensureHelm, helm } = (await import(join(root, 'scripts/deploy/helm.mjs'))) as {
    ensureHelm: (root: string) => string;
    helm: (bin: string, args: string[]) => string;
  };
  const values = join(root, 'deploy/helm/weft/ci/host-gw-values.yaml');
  const text = helm(ensureHelm(root), [
    'template',
    'weft',
    join(root, 'deploy/helm/weft'),
    '-f',
    values,
  ]);
  const ds = parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .find((o) => o?.['kind'] === 'DaemonSet') as Obj;
  const f = flags(ds['spec']['template']['spec']['containers'][0]['args'] as string[]);
  assert.equal(f['allow-clients'], '10.8.0.0/16,fd08::/64');
  assert.deepEqual(parseAllowClients([f['allow-clients'] as string]).map(formatCidr), [
    '10.8.0.0/16',
    'fd08::/64',
  ]);
  assert.equal(
    flags(one(manifest(), 'DaemonSet')['spec']['template']['spec']['containers'][0]['args'])[
      'allow-clients'
    ],
    undefined,
    'none by default',
  );
});

test("serviceProxy renders the flags weft agent reads: on with kube-proxy's healthz, or off", async () => {
  const args = one(manifest(), 'DaemonSet')['spec']['template']['spec']['containers'][0][
    'args'
  ] as string[];
  const f = flags(args);
  const config = serviceProxyConfig(
    {
      'service-proxy': f['service-proxy'] ?? '',
      'service-lb-algorithm': f['service-lb-algorithm'] ?? '',
      ...(f['proxy-healthz'] ? { 'proxy-healthz': f['proxy-healthz'] } : {}),
    },
    { kind: 'kubernetes' },
  );
  assert.deepEqual(config, {
    serviceCidrs: [],
    loadBalancing: 'random',
    healthz: { host: '0.0.0.0', port: 10256 },
  });
  const { ensureHelm, helm } = (await import(join(root, 'scripts/deploy/helm.mjs'))) as {
    ensureHelm: (root: string) => string;
    helm: (bin: string, args: string[]) => string;
  };
  const off = helm(ensureHelm(root), [
    'template',
    'weft',
    join(root, 'deploy/helm/weft'),
    '--set',
    'serviceProxy.enabled=false',
  ]);
  const ds = parseAllDocuments(off)
    .map((d) => d.toJS() as Obj | null)
    .find((o) => o?.['kind'] === 'DaemonSet') as Obj;
  const offFlags = flags(ds['spec']['template']['spec']['containers'][0]['args'] as string[]);
  assert.equal(offFlags['service-proxy'], 'off');
  assert.equal(offFlags['proxy-healthz'], undefined);
  assert.equal(
    serviceProxyConfig(
      { 'service-proxy': 'off', 'service-lb-algorithm': 'random' },
      { kind: 'kubernetes' },
    ),
    undefined,
  );
});
