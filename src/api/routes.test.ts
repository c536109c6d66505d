import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import ts from 'typescript';
import { encodeCniWireResponse } from '../core/cni/wire.js';
import { parseFlowQuery } from '../core/flows/filter.js';
import { repoRoot } from '../testing/paths.js';
import { listSources, type SourceFile } from '../testing/sources.js';
import { AgentRoutes, flowParams, routeAt } from './routes.js';
import { decodeJson, type Shape } from './shape.js';

// This file pins the public paths: it and routes.ts are the only ones that spell them.

test('the routes are the public API: method, path and the listeners that serve each', () => {
  const table = Object.fromEntries(
    Object.entries(AgentRoutes).map(([name, r]) => [
      name,
      `${r.method} ${r.path} ${r.listeners.join(',')}`,
    ]),
  );
  assert.deepEqual(table, {
    cni: 'POST /v1/cni unix',
    status: 'GET /v1/status unix,observe',
    healthz: 'GET /healthz unix,health,observe',
    metrics: 'GET /metrics unix,health,observe',
    flows: 'GET /v1/flows unix,observe',
    ir: 'GET /v1/ir unix,observe',
    policy: 'GET /v1/policy unix,observe',
    endpointsPolicy: 'GET /v1/endpoints/policy unix,observe',
    source: 'GET /v1/source unix,observe',
    endpoints: 'GET /v1/endpoints unix',
    ipam: 'GET /v1/ipam unix',
  });
  const query = parseFlowQuery(
    [
      ['verdict', 'dropped'],
      ['pod', 'shop/web'],
    ],
    0,
  );
  assert.equal(flowParams(query).toString(), 'verdict=dropped&pod=shop%2Fweb');
  assert.equal(flowParams(query, true).toString(), 'verdict=dropped&pod=shop%2Fweb&follow=1');
});

test('routeAt finds a route by its method and path', () => {
  assert.equal(routeAt('GET', '/v1/endpoints/policy')?.name, 'endpointsPolicy');
  assert.equal(routeAt('POST', '/v1/cni')?.name, 'cni');
  assert.equal(routeAt('GET', '/v1/cni'), undefined);
  assert.equal(routeAt('POST', '/v1/status'), undefined);
  assert.equal(routeAt('GET', '/v1/nothing'), undefined);
});

function fails<T>(shape: Shape<T>, body: string, problem: RegExp): void {
  const d = decodeJson(body, shape);
  assert.ok(!d.ok, `${body} was accepted`);
  assert.match(d.problem, problem);
}

test('the CNI answer: round trip and validation', () => {
  const shape = AgentRoutes.cni.shape;
  const res = { exitCode: 0, stdout: '{"cniVersion":"1.1.0"}' };
  assert.deepEqual(decodeJson(encodeCniWireResponse(res), shape), { ok: true, value: res });
  fails(shape, '{"exitCode":256,"stdout":""}', /^"exitCode" must be an integer from 0 to 255/);
  fails(shape, '{"exitCode":1.5,"stdout":""}', /exitCode/);
  fails(shape, '{"exitCode":0}', /^"stdout" must be a string, got undefined$/);
  fails(shape, 'nope', /^not JSON \(/);
  fails(shape, '[1]', /^not a JSON object: \[1\]$/);
});

test('the status answer: round trip and validation, the detail where it is', () => {
  const shape = AgentRoutes.status.shape;
  const down = { ready: false, message: 'waiting for the first full sync' };
  assert.deepEqual(decodeJson(JSON.stringify(down), shape), { ok: true, value: down });
  fails(shape, '{"ready":"yes"}', /"ready" must be true or false/);
  fails(shape, '{"ready":false,"message":3}', /"message" must be a string/);
  fails(shape, '{"ready":true,"health":"fine"}', /"health" must be one of "starting", "degraded"/);
  fails(
    shape,
    '{"ready":true,"flows":{"enabled":true,"lost":"x"}}',
    /^"flows.lost" must be a number/,
  );
  fails(shape, '{"ready":true,"lastSync":{"kind":"full","at":"t"}}', /"lastSync.ms" must be/);
  // Flows off: nothing more to check. An older agent's counts may lack the newer ones.
  for (const flows of [{ enabled: false }, { enabled: true, seen: 3, buffered: 3, lost: 0 }])
    assert.ok(decodeJson(JSON.stringify({ ready: true, flows }), shape).ok);
});

test('the flows answer names the flow and field it does not understand', () => {
  const flow = {
    time: 1,
    node: 'n1',
    direction: 'ingress',
    source: { kind: 'world', ip: '10.0.0.1' },
    destination: { kind: 'pod', ip: '10.0.0.2', port: 80 },
    protocol: 'TCP',
    event: 'start',
    verdict: 'forwarded',
    decidedBy: { kind: 'default' },
  };
  const shape = AgentRoutes.flows.shape;
  const answer = (flows: unknown[]) => JSON.stringify({ flows, node: 'n1', lost: 0 });
  assert.ok(decodeJson(answer([flow, flow]), shape).ok);
  fails(shape, answer([flow, { ...flow, time: '1' }]), /^"flows\[1\].time" must be a number/);
  fails(
    shape,
    answer([{ ...flow, source: { kind: 'moon', ip: 'x' } }]),
    /^"flows\[0\].source.kind" must be one of "pod", "host", "world", got "moon"$/,
  );
  fails(shape, JSON.stringify({ node: 'n1', lost: 0 }), /^"flows" must be a JSON array/);
  // Through a Service: the additive fields are checked where present.
  const service = {
    namespace: 'shop',
    name: 'web',
    portName: 'http',
    frontend: { kind: 'ClusterIP', ip: '10.96.0.10', port: 80 },
  };
  const masqueraded = { ip: '192.168.1.10', port: 61000 };
  assert.ok(decodeJson(answer([{ ...flow, service, masqueraded }]), shape).ok);
  assert.ok(decodeJson(answer([{ ...flow, translatedFrom: { ip: '10.0.0.9' } }]), shape).ok);
  fails(
    shape,
    answer([{ ...flow, service: { ...service, frontend: { ...service.frontend, kind: 'VIP' } } }]),
    /^"flows\[0\].service.frontend.kind" must be one of "ClusterIP", "ExternalIP", "LoadBalancer", "NodePort", got "VIP"$/,
  );
  fails(
    shape,
    answer([{ ...flow, masqueraded: { port: 1 } }]),
    /^"flows\[0\].masqueraded.ip" must be a string/,
  );
});

// ---- no other file spells a route ----

/**
 * Files that spell a path of another API: the pod server's own control API,
 * and the Service proxy's health server (kube-proxy's /healthz, which a load
 * balancer asks; its test checks that it answers nothing else).
 */
const OTHER_APIS: Readonly<Record<string, readonly string[]>> = {
  'src/lab/pod-server.ts': ['/healthz'],
  'src/lab/probe-client.ts': ['/healthz'],
  'src/components/services/health-check.ts': ['/healthz'],
  'src/components/services/health-check.test.ts': ['/healthz', '/metrics'],
};
const PINNED = new Set(['src/api/routes.ts', 'src/api/routes.test.ts']);

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A literal spells a route when the path starts it or follows a port, and
 * ends it or a query, fragment or longer path follows (prose that names a
 * route, `'/metrics and status agree'`, does not).
 */
function spells(text: string, path: string): boolean {
  return new RegExp(`(^|:\\d+)${escape(path)}(?=$|[?#/])`).test(text);
}

/** Every string and template piece in a file, with its line. */
function literals(f: SourceFile): { text: string; line: number }[] {
  const kind = f.path.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const sf = ts.createSourceFile(f.path, f.source, ts.ScriptTarget.Latest, true, kind);
  const out: { text: string; line: number }[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    )
      out.push({
        text: node.text,
        line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1,
      });
    node.forEachChild(visit);
  };
  visit(sf);
  return out;
}

/** `FILE:LINE: "TEXT" spells PATH` for every route path a file spells outside routes.ts. */
function routeLiterals(files: readonly SourceFile[], paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (PINNED.has(f.path) || !paths.some((p) => f.source.includes(p))) continue;
    for (const { text, line } of literals(f))
      for (const path of paths)
        if (spells(text, path) && !OTHER_APIS[f.path]?.includes(path))
          out.push(`${f.path}:${line}: ${JSON.stringify(text)} spells ${path}`);
  }
  return out;
}

const PATHS = [...new Set(Object.values(AgentRoutes).map((r) => r.path))];

test('no file but routes.ts spells a path of the agent API: sources, tests, benchmarks', () => {
  const root = repoRoot();
  const under = (dir: string, files: SourceFile[]) =>
    files.map((f) => ({ path: `${dir}/${f.path}`, source: f.source }));
  const files = [
    ...under('src', listSources(join(root, 'src'), { tests: true })),
    ...under('test', listSources(join(root, 'test'), { tests: true })),
    ...under('bench', listSources(join(root, 'bench'), { extensions: ['.js', '.mjs'] })),
  ];
  assert.ok(
    files.some((f) => f.path === 'src/agent/server.ts'),
    `no sources under ${root}`,
  );
  assert.ok(
    files.some((f) => f.path === 'bench/cni.js'),
    `no benchmarks under ${root}`,
  );
  const found = routeLiterals(files, PATHS);
  assert.deepEqual(found, [], `ask by AgentRoutes (src/api/routes.ts):\n${found.join('\n')}`);
});

test('the route literal check finds paths in strings, templates and URLs, not in prose', () => {
  const files: SourceFile[] = [
    { path: 'src/cli/a.ts', source: "get('/v1/status');\n" },
    { path: 'src/ui/b.ts', source: 'const u = `${base}/metrics?x=1`;' },
    { path: 'bench/c.js', source: "fetch('http://10.0.0.1:9963/v1/flows');" },
    {
      path: 'src/d.ts',
      source:
        "// GET /v1/status\nconst m = ['in /metrics', '/metrics and status', '/api/v1/statuses'];",
    },
    { path: 'src/lab/pod-server.ts', source: "if (path === '/healthz') ok();" },
    { path: 'src/lab/pods.ts', source: "call('/healthz');" },
  ];
  assert.deepEqual(routeLiterals(files, PATHS), [
    'src/cli/a.ts:1: "/v1/status" spells /v1/status',
    'src/ui/b.ts:1: "/metrics?x=1" spells /metrics',
    'bench/c.js:1: "http://10.0.0.1:9963/v1/flows" spells /v1/flows',
    'src/lab/pods.ts:1: "/healthz" spells /healthz',
  ]);
});
