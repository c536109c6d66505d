// `weft observe`, `status` and `endpoints` over the agents' --observe
// listeners (--agent URL), as an operator reaches a cluster's agents: from
// inside a lab node, over the underlay, to both nodes' agents. What they
// show equals what the unix sockets show. A pod is refused, by --observe
// and by --ui.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { LAB_UI_PORT, labObserveUrl } from '../../src/lab/infra.js';
import type { LabState } from '../../src/lab/state.js';
import { repoRoot } from '../../src/testing/paths.js';
import { TestLab } from '../support/lab.js';
import { AgentRoutes } from '../../src/api/routes.js';

interface FlowLine {
  time: number;
  node: string;
  verdict: string;
  source: { pod?: string; namespace?: string };
  destination: { pod?: string; namespace?: string; port?: number };
}

const lines = (out: string): FlowLine[] =>
  out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as FlowLine);

test('observe, status and endpoints through --agent URL equal the unix sockets', async (t) => {
  const lab = TestLab.create(t);
  const examples = join(repoRoot(), 'examples');
  await lab.lab('up', '--nodes', '2', '-f', join(examples, 'demo.yaml'));
  await lab.lab('apply', '-f', join(examples, 'policies.yaml'));
  await lab.probe('--port', '5432/TCP');
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as LabState;
  const agents = state.nodes.flatMap((n) => ['--agent', labObserveUrl(n)]);
  const inNode = async (...args: string[]) =>
    run('ip', [
      'netns',
      'exec',
      state.nodes[0]?.netns ?? '',
      process.execPath,
      join(repoRoot(), 'bin/weft.js'),
      ...args,
    ]);

  const until = `${new Date(Date.now()).toISOString()}`;
  const overHttp = lines(
    await inNode('observe', ...agents, '--verdict', 'dropped', '--until', until, '-o', 'json'),
  );
  const overSocket = lines(
    (
      await lab.weft(
        'observe',
        '--lab',
        lab.name,
        '--verdict',
        'dropped',
        '--until',
        until,
        '-o',
        'json',
      )
    ).stdout,
  );
  assert.ok(overHttp.length > 0, 'the probe left drops');
  assert.ok(overHttp.every((f) => f.verdict === 'dropped'));
  assert.deepEqual(
    new Set(overHttp.map((f) => f.node)),
    new Set(state.nodes.map((n) => n.name)),
    'both agents answered',
  );
  const key = (f: FlowLine) => `${f.time} ${f.node} ${f.source.pod} ${f.destination.pod}`;
  assert.deepEqual(overHttp.map(key), overSocket.map(key));

  const status = JSON.parse(await inNode('status', ...agents, '-o', 'json')) as {
    agents: {
      node: string;
      status?: {
        ready?: boolean;
        lastSync?: { kind: string; ms: number };
        counts?: { endpoints: number; policies: number; rules: number };
        flows?: { enabled: boolean; seen: number; lost: number };
      };
    }[];
  };
  assert.deepEqual(
    status.agents.map((a) => a.node),
    state.nodes.map((n) => n.name),
    'node names, not addresses',
  );
  for (const a of status.agents) {
    const s = a.status;
    assert.equal(s?.ready, true, JSON.stringify(a));
    assert.ok(s.lastSync && s.lastSync.ms >= 0, `${a.node}: a last sync with its duration`);
    const own = Object.values(state.pods).filter((p) => p.node === a.node).length;
    assert.equal(s.counts?.endpoints, own, `${a.node}: one endpoint per pod of the node`);
    assert.ok((s.counts?.rules ?? 0) > 0, `${a.node}: rules counted`);
    assert.ok(s.flows?.enabled && s.flows.seen > 0, `${a.node}: flows recorded`);
    assert.equal(typeof s.flows?.lost, 'number');
  }
  // The table says the same, a line a node.
  const table = await inNode('status', ...agents);
  for (const a of status.agents)
    assert.match(
      table,
      new RegExp(
        `^${a.node} +ok +(full|partial|noop) [\\d.]+ ms at \\S+ +${a.status?.counts?.endpoints} +${a.status?.counts?.policies} +${a.status?.counts?.rules} +\\d+ +\\d+ ports, \\d+ rules +\\d+ \\(\\d+ buffered\\) +\\d+$`,
        'm',
      ),
    );
  const endpoints = await inNode('endpoints', ...agents);
  assert.match(endpoints, /shop\/db .*isolated by shop\/db-from-api/);

  // The listener is read-only: no CNI through it.
  const post = `fetch(process.argv[1], { method: 'POST', body: '{}' }).then((r) => console.log(r.status))`;
  const cni = await run('ip', [
    'netns',
    'exec',
    state.nodes[0]?.netns ?? '',
    process.execPath,
    '-e',
    post,
    `${labObserveUrl(state.nodes[1] ?? { address: '' })}${AgentRoutes.cni.path}`,
  ]);
  assert.equal(cni.trim(), '404');

  // And it answers the cluster's nodes only: a pod gets 403, not the flows.
  const pod = Object.values(state.pods).find((p) => !p.hostNetwork);
  assert.ok(pod);
  const get = `fetch(process.argv[1]).then(async (r) => console.log(r.status, await r.text()))`;
  const fromPod = (url: string) =>
    run('ip', ['netns', 'exec', pod.netns, process.execPath, '-e', get, url]);
  const refusal = (listener: string) =>
    new RegExp(
      `^403 .*the ${listener} listener answers loopback and this cluster's Node addresses only, and ${pod.ips[0]?.replace(/\./g, '\\.')} is none of them`,
    );
  const node0 = state.nodes[0] ?? { address: '' };
  assert.match(
    await fromPod(`${labObserveUrl(node0)}${AgentRoutes.flows.path}`),
    refusal('observe'),
  );
  // The agent's web UI too, with the flows of every node behind it.
  assert.match(
    await fromPod(`http://${node0.address}:${LAB_UI_PORT}/api/flows?last=2`),
    refusal('ui'),
  );
});
