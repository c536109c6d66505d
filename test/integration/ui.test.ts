// The web UI end to end: a real lab (agents recording real flows), `weft ui
// --lab`, and the page driven in headless Chromium. Traffic appears on the map
// within seconds; a policy that denies it turns the edge to dropped; the
// detail panel and the trace name the policy; filters narrow the map; the
// policy view lists the policy and the verdict. Then the page as an agent
// serves it (`weft agent --ui`), opened from inside a node as in a cluster:
// its own flows and its peer's. Then Services: a connection through one is
// drawn client → Service → endpoint, and the Service's panel lists its
// frontends and endpoints. Screenshots go to a temporary directory
// (WEFT_UI_SHOTS=docs/ui renews the documented ones).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { LAB_UI_PORT } from '../../src/lab/infra.js';
import type { LabState } from '../../src/lab/state.js';
import { repoRoot } from '../../src/testing/paths.js';
import { TestLab } from '../support/lab.js';
import { NETEXEC_CLIENT } from '../support/netexec.js';
import { upServicesLab } from '../support/services-lab.js';

const CHROMIUM = process.env['WEFT_CHROMIUM'] ?? '/usr/bin/chromium';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { team: shop } }
---
apiVersion: v1
kind: Namespace
metadata: { name: tools, labels: { team: platform } }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: api, labels: { app: api } }
spec: { nodeName: node-1, containers: [{ name: c, image: c, ports: [{ containerPort: 8080 }] }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: db, labels: { app: db } }
spec: { nodeName: node-2, containers: [{ name: c, image: c, ports: [{ containerPort: 5432 }] }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: tools, name: loadgen, labels: { app: loadgen } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
`;

const DENY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: shop, name: db-only-api }
spec:
  podSelector: { matchLabels: { app: db } }
  policyTypes: [Ingress]
  ingress:
    - from: [{ podSelector: { matchLabels: { app: api } } }]
      ports: [{ port: 5432 }]
`;

const LOADGEN_DB = 'tools/app=loadgen->shop/app=db';
const API_DB = 'shop/app=api->shop/app=db';
/**
 * The screenshots of the main views. A test run leaves the work tree as it
 * was, so they go to a temporary directory; `WEFT_UI_SHOTS=docs/ui` renews
 * the ones docs/ui.md and the README show.
 */
const SHOTS = process.env['WEFT_UI_SHOTS'] ?? mkdtempSync(join(tmpdir(), 'weft-ui-shots-'));
test.after(() => {
  if (process.env['WEFT_UI_SHOTS'] === undefined) rmSync(SHOTS, { recursive: true, force: true });
});

/** `weft ui --lab NAME --listen 127.0.0.1:0`; resolves with its URL once it serves. */
function startUi(lab: TestLab): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [join(repoRoot(), 'bin/weft.js'), 'ui', '--lab', lab.name, '--listen', '127.0.0.1:0'],
    { env: { ...process.env, WEFT_LAB_ROOT: lab.root }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`weft ui did not start: ${out}`)), 15_000);
    const take = (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ url: m[1] as string, child });
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.on('exit', (code) => reject(new Error(`weft ui exited ${code}: ${out}`)));
  });
}

/** Real connections from one pod to another, as the lab's probe makes them. */
async function traffic(lab: TestLab, from: string, to: string, port: string): Promise<void> {
  await lab.lab('probe', '--from', from, '--to', to, '--port', port, '--timeout-ms', '300');
}

/** Runs `step` (traffic) until `selector` is on the page, at most `ms`; returns the time it took. */
async function until(page: Page, selector: string, ms: number, step: () => Promise<void>) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    await step();
    const found = await page
      .waitForSelector(selector, { timeout: 1000 })
      .then(() => true)
      .catch(() => false);
    if (found) return Date.now() - t0;
  }
  throw new Error(`${selector} did not appear within ${ms} ms`);
}

async function shot(page: Page, name: string): Promise<void> {
  const png = await page.screenshot();
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${name}: a PNG`);
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, `${name}.png`), png);
}

async function edgeIds(page: Page): Promise<string[]> {
  return page.$$eval('[data-edge]', (es) => es.map((e) => e.getAttribute('data-edge') ?? ''));
}

/** Sets a filter control and waits for the map to redraw with it. */
async function filter(page: Page, name: string, value: string): Promise<void> {
  const wait = page.waitForResponse((r) => r.url().includes('/api/map'));
  const el = page.locator(`[data-filter="${name}"]`);
  if (name === 'label') await el.fill(value).then(() => el.press('Enter'));
  else await el.selectOption(value);
  await wait;
  await page.waitForTimeout(100);
}

/**
 * A page of headless Chromium (`executable`: a wrapper to run it elsewhere)
 * that records the errors it throws and the requests it makes outside `base`.
 */
async function openPage(t: test.TestContext, base: string, executable = CHROMIUM) {
  const browser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const outside: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) outside.push(r.url());
  });
  return { page, pageErrors, outside };
}

test('weft ui against a lab: live map, drop after a policy, detail, trace, filters, policy view', async (t) => {
  const lab = TestLab.create(t);
  const file = join(lab.root, 'shop.yaml');
  writeFileSync(file, MANIFESTS);
  await lab.lab('up', '--nodes', '2', '-f', file);
  const ui = await startUi(lab);
  t.after(() => void ui.child.kill('SIGTERM'));
  const { page, pageErrors, outside } = await openPage(t, ui.url);

  const t0 = Date.now();
  await page.goto(`${ui.url}/`);
  await page.waitForResponse((r) => r.url().includes('/api/map'));
  t.diagnostic(`page load to first map: ${Date.now() - t0} ms`);

  // Traffic appears on the map within seconds.
  const seen = await until(
    page,
    `[data-edge="${LOADGEN_DB}"][data-verdict="forwarded"]`,
    10_000,
    () => traffic(lab, 'tools/loadgen', 'shop/db', '5432/TCP'),
  );
  t.diagnostic(`allowed traffic on the map after ${seen} ms`);
  assert.ok(seen < 10_000);
  await until(page, `[data-edge="${API_DB}"]`, 10_000, () =>
    traffic(lab, 'shop/api', 'shop/db', '5432/TCP'),
  );
  await page.waitForSelector('tr[data-flow]');

  // A policy that denies it turns the edge to dropped.
  const deny = join(lab.root, 'deny.yaml');
  writeFileSync(deny, DENY);
  await lab.lab('apply', '-f', deny);
  const dropped = await until(
    page,
    `[data-edge="${LOADGEN_DB}"][data-verdict="dropped"]`,
    15_000,
    () => traffic(lab, 'tools/loadgen', 'shop/db', '5432/TCP'),
  );
  t.diagnostic(`edge dropped on the map ${dropped} ms after the policy was applied`);
  await traffic(lab, 'shop/api', 'shop/db', '5432/TCP');

  // The detail panel names the policy.
  await page.locator(`[data-edge="${LOADGEN_DB}"] .hit`).click({ force: true });
  const panel = page.locator(`[data-detail="edge:${LOADGEN_DB}"]`);
  await panel.waitFor();
  const text = await panel.innerText();
  assert.match(text, /dropped/);
  assert.match(text, /NetworkPolicy shop\/db-only-api/);
  await shot(page, 'map');

  const href = await panel.locator('a[data-trace]').getAttribute('href');
  assert.ok(href, 'the edge detail links to a trace');

  // A dropped flow in the table names it too.
  await page.locator('tr[data-flow].dropped').first().click();
  assert.match(await page.locator('[data-detail^="flow:"]').innerText(), /shop\/db-only-api/);

  // The trace link shows `policy trace` for that connection.
  await page.goto(`${ui.url}${href}`);
  const trace = page.locator('[data-trace-result]');
  await trace.waitFor();
  assert.equal(await trace.getAttribute('data-trace-result'), 'denied');
  assert.match(
    await page.locator('[data-side="ingress"]').innerText(),
    /isolated for ingress by NetworkPolicy shop\/db-only-api/,
  );
  await shot(page, 'trace');

  // Filters narrow the map.
  await page.goto(`${ui.url}/`);
  await page.waitForSelector(`[data-edge="${API_DB}"]`);
  await filter(page, 'verdict', 'dropped');
  assert.deepEqual(await edgeIds(page), [LOADGEN_DB]);
  await filter(page, 'verdict', 'forwarded');
  assert.ok((await edgeIds(page)).includes(API_DB));
  assert.ok((await edgeIds(page)).includes(LOADGEN_DB), 'before the policy it was forwarded');
  await filter(page, 'verdict', '');
  await filter(page, 'namespace', 'tools');
  assert.deepEqual(await edgeIds(page), [LOADGEN_DB]);
  await filter(page, 'namespace', '');
  await filter(page, 'label', 'app=api');
  assert.deepEqual(await edgeIds(page), [API_DB]);
  await shot(page, 'filtered');
  await filter(page, 'label', '');

  // The policy view: policies selecting db and its verdicts against its peers.
  await page.goto(`${ui.url}/policy?workload=${encodeURIComponent('shop/app=db')}`);
  await page.waitForSelector('[data-matrix]');
  assert.match(
    await page.locator('[data-selecting="ingress"]').innerText(),
    /NetworkPolicy shop\/db-only-api/,
  );
  const cell = (peer: string) =>
    page.locator(`tr[data-peer="${peer}"] td[data-cell="in 5432/TCP"]`).innerText();
  assert.equal(await cell('tools/loadgen'), '\u2717');
  assert.equal(await cell('shop/api'), '\u2713');
  await shot(page, 'policy');

  assert.deepEqual(pageErrors, [], 'the page threw no error');
  assert.deepEqual(outside, [], 'the page asked nothing outside the UI server');
});

test('the agent serves the page too: its node and its peers, from inside the cluster', async (t) => {
  const lab = TestLab.create(t);
  const file = join(lab.root, 'shop.yaml');
  writeFileSync(file, MANIFESTS + '---' + DENY);
  await lab.lab('up', '--nodes', '2', '-f', file);
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as LabState;
  const node1 = state.nodes.find((n) => n.name === 'node-1');
  assert.ok(node1);
  // The browser runs on node-1, as an operator's port-forward reaches the agent there.
  const inNode = join(lab.root, 'chromium-in-node-1');
  writeFileSync(inNode, `#!/bin/sh\nexec ip netns exec ${node1.netns} ${CHROMIUM} "$@"\n`);
  chmodSync(inNode, 0o755);
  const url = `http://${node1.address}:${LAB_UI_PORT}`;
  const { page, pageErrors, outside } = await openPage(t, url, inNode);
  await page.goto(`${url}/`);
  await page.waitForResponse((r) => r.url().includes('/api/map'));

  // The drop is recorded by node-2's agent (db's ingress): node-1's page shows it from its peer.
  await until(page, `[data-edge="${LOADGEN_DB}"][data-verdict="dropped"]`, 15_000, () =>
    traffic(lab, 'tools/loadgen', 'shop/db', '5432/TCP'),
  );
  await until(page, `[data-edge="${API_DB}"][data-verdict="forwarded"]`, 10_000, () =>
    traffic(lab, 'shop/api', 'shop/db', '5432/TCP'),
  );
  await page.locator('#feed', { hasText: /2 of 2 agents/ }).waitFor({ timeout: 5000 });
  assert.match(await page.locator('#source').innerText(), /served by node node-1/);
  await page.locator(`[data-edge="${LOADGEN_DB}"] .hit`).click({ force: true });
  const panel = page.locator(`[data-detail="edge:${LOADGEN_DB}"]`);
  await panel.waitFor();
  assert.match(await panel.innerText(), /NetworkPolicy shop\/db-only-api/);
  const cells = await page.$$eval('tr[data-flow] td', (tds) => tds.map((td) => td.textContent));
  const nodes = new Set(cells.map((c) => /^(node-\d) (in|out)$/.exec(c ?? '')?.[1]));
  assert.ok(nodes.has('node-1') && nodes.has('node-2'), 'flows of both agents in the table');
  await shot(page, 'agent');

  // The policy view reads the agent's own model of the cluster.
  await page.goto(`${url}/policy?workload=${encodeURIComponent('shop/app=db')}`);
  await page.waitForSelector('[data-matrix]');
  assert.equal(
    await page.locator('tr[data-peer="tools/loadgen"] td[data-cell="in 5432/TCP"]').innerText(),
    '\u2717',
  );

  assert.deepEqual(pageErrors, [], 'the page threw no error');
  assert.deepEqual(outside, [], 'the page asked nothing outside the agent');
});

test('weft ui draws Services: client -> Service -> endpoint, its frontends and endpoints, its filter', async (t) => {
  const lab = TestLab.create(t);
  const { node1, ip } = await upServicesLab(lab);
  const ui = await startUi(lab);
  t.after(() => void ui.child.kill('SIGTERM'));
  const { page, pageErrors, outside } = await openPage(t, ui.url);
  await page.goto(`${ui.url}/`);
  await page.waitForResponse((r) => r.url().includes('/api/map'));
  const ask = (host: string, port: string) => async () => {
    await lab.lab('exec', 'svc/client', '--', process.execPath, '-e', NETEXEC_CLIENT, host, port);
  };

  // Through svc/remote's ClusterIP (endpoint on node-2), and to api-1 directly.
  const SVC = 'svc/Service/remote';
  const IN = `svc/app=client->${SVC}`;
  const OUT = `${SVC}->svc/app=api`;
  const DIRECT = 'svc/app=client->svc/app=api';
  await until(
    page,
    `[data-edge="${OUT}"][data-verdict="forwarded"]`,
    15_000,
    ask('10.96.0.50', '80'),
  );
  await until(page, `[data-edge="${DIRECT}"]`, 10_000, ask(ip('api-1'), '8080'));
  assert.equal(await page.locator(`[data-node="${SVC}"]`).getAttribute('data-kind'), 'service');
  assert.equal(await page.locator(`[data-node="${SVC}"] polygon`).count(), 1, 'a shape of its own');
  const label = async (edge: string) =>
    (await page.locator(`[data-edge="${edge}"] .label`).textContent()) ?? '';
  assert.match(await label(IN), /^80\/TCP, 80\/UDP /, 'the frontend port');
  assert.match(await label(OUT), /^8080\/TCP, 8080\/UDP /, 'the endpoint port');

  // Its panel: what flows reached, and the Service as the lab's objects say it.
  await page.locator(`[data-node="${SVC}"]`).click();
  const panel = page.locator(`[data-detail="node:${SVC}"]`);
  await panel.locator('[data-endpoints] li').first().waitFor();
  assert.deepEqual(await panel.locator('[data-frontends-seen] li').allInnerTexts(), [
    'ClusterIP 10.96.0.50:80/TCP (http)',
    'ClusterIP 10.96.0.50:80/UDP (udp)',
  ]);
  assert.deepEqual(await panel.locator('[data-endpoints-seen] li').allInnerTexts(), ['svc/api-2']);
  const frontends = await panel.locator('[data-frontends] li').allInnerTexts();
  assert.ok(frontends.includes('ClusterIP 10.96.0.50:80/TCP (http)'), frontends.join('; '));
  assert.ok(
    frontends.includes(`NodePort ${node1}:30080/TCP (http) on node-1`),
    frontends.join('; '),
  );
  assert.deepEqual(await panel.locator('[data-endpoints] li').allInnerTexts(), [
    `${ip('api-2')}:8080/TCP Pod svc/api-2 on node-2 (ready)`,
    `${ip('api-2')}:8080/UDP Pod svc/api-2 on node-2 (ready)`,
  ]);
  await shot(page, 'service');

  // The Service filter keeps the connections through it, and goes in the URL.
  await filter(page, 'service', 'svc/remote');
  assert.deepEqual((await edgeIds(page)).sort(), [IN, OUT].sort());
  assert.match(page.url(), /[?&]service=svc%2Fremote/);
  assert.match(
    await page.locator('tr[data-flow]').first().innerText(),
    /svc\/api-2 via svc\/remote/,
  );
  assert.deepEqual(pageErrors, [], 'the page threw no error');
  assert.deepEqual(outside, [], 'the page asked nothing outside the UI server');
});
