// The Kubernetes API source at scale: 5,000 nodes, 100,000 pods and 10,000
// policies served by the fake API server (test/support/fake-apiserver.ts) in a
// child process, so that the agent side's memory is measured on its own.
//   npm run build && npm run build:test && node bench/kube-source.js
//       [--nodes 5000] [--pods 100000] [--policies 10000] [--page 500] [--events 30]
// Pods look like real ones (managedFields, annotations, conditions, container
// statuses, ~3 KB of JSON each), so what the projection drops is measured too.
// Measured: time from start to the first Cluster; agent heap and RSS after a GC
// with that Cluster held; single-event latency (a pod's labels change on the
// server -> a Cluster with the change); a burst of 1,000 updates; a relist of
// every pod after a 410 Gone (compaction), and memory after it.
import { fork, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeObject, podIdentity, podObject } from './kube-objects.js';

const self = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' },
    pods: { type: 'string', default: '100000' },
    policies: { type: 'string', default: '10000' },
    page: { type: 'string', default: '500' },
    events: { type: 'string', default: '30' },
    serve: { type: 'boolean', default: false },
  },
});
const size = {
  nodes: Number(values.nodes),
  pods: Number(values.pods),
  policies: Number(values.policies),
};

if (values.serve) await serve();
else if (typeof globalThis.gc !== 'function') {
  // Measure with a collector we can run: start again with --expose-gc.
  const r = spawnSync(process.execPath, ['--expose-gc', self, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
} else await measure();

// ---- the server side (child process) -------------------------------------------

async function serve() {
  const { FakeApiServer } = await import('../dist-test/test/support/fake-apiserver.js');
  const { generateCluster } = await import('./generate.js');
  const server = await FakeApiServer.start({ record: false, bookmarkMs: 60_000 });
  const docs = generateCluster({ pods: 0, policies: size.policies, namespaces: 200 })
    .split('\n---\n')
    .map((d) => JSON.parse(d));
  const plural = {
    Namespace: 'namespaces',
    NetworkPolicy: 'networkpolicies',
    ClusterNetworkPolicy: 'clusternetworkpolicies',
  };
  for (const d of docs) server.create(plural[d.kind], d);
  for (let k = 0; k < size.nodes; k++) server.create('nodes', nodeObject(k));
  let podBytes = 0;
  for (let i = 0; i < size.pods; i++) {
    const p = podObject(i, size.nodes);
    if (i < 100) podBytes += JSON.stringify(p).length;
    server.create('pods', p);
  }
  server.compact();
  const pods = new Map();
  let version = 1;
  process.on('message', (m) => {
    if (m.cmd === 'update') {
      // A label change on existing pods, as a rollout's relabel would make.
      version++;
      for (const i of m.pods) {
        const p = pods.get(i) ?? podObject(i, size.nodes);
        p.metadata.labels.version = `v${version}`;
        pods.set(i, p);
        server.update('pods', p);
      }
      // Wall-clock time (comparable across processes) when the last event was written.
      process.send({
        cmd: 'updated',
        version,
        writtenAt: performance.timeOrigin + performance.now(),
      });
    } else if (m.cmd === 'compact-and-drop') {
      // Writes elsewhere move the resourceVersion past the pods watch's; then compact.
      server.store.bump();
      server.compact();
      server.dropWatches('pods');
      process.send({ cmd: 'dropped' });
    } else if (m.cmd === 'create' || m.cmd === 'remove') {
      // One object written or deleted (bench/kube-agent.js: a policy toggled).
      if (m.cmd === 'create') server.create(m.resource, m.obj);
      else server.remove(m.resource, m.key);
      process.send({ cmd: 'written', writtenAt: performance.timeOrigin + performance.now() });
    } else if (m.cmd === 'memory') {
      process.send({ cmd: 'memory', rss: process.memoryUsage().rss });
    } else if (m.cmd === 'exit') {
      server.close().then(() => process.exit(0));
    }
  });
  process.send({
    cmd: 'ready',
    url: server.url,
    podBytes: podBytes / 100,
    objects: server.store.rv,
  });
}

// ---- the agent side (this process) ---------------------------------------------

/** Heap per pod, over 20,000 of them: the whole object, weft's model, the model with sharing. */
async function podFootprint() {
  const { parseApiObject, PartSharer } = await import('../dist/sources/kubernetes/assemble.js');
  const { RESOURCES } = await import('../dist/sources/kubernetes/resources.js');
  const spec = RESOURCES.find((r) => r.name === 'pods');
  const n = 20_000;
  const texts = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...podObject(i, 5000) }),
  );
  const measure = (make) => {
    globalThis.gc();
    globalThis.gc();
    const h0 = process.memoryUsage().heapUsed;
    const kept = texts.map(make);
    globalThis.gc();
    globalThis.gc();
    const bytes = (process.memoryUsage().heapUsed - h0) / kept.length;
    return Math.round(bytes);
  };
  const sharer = new PartSharer();
  return {
    raw: measure((t) => JSON.parse(t)),
    parsed: measure((t) => parseApiObject(spec, JSON.parse(t))),
    shared: measure((t) => parseApiObject(spec, JSON.parse(t), sharer)),
  };
}

async function measure() {
  const { watchKubernetes } = await import('../dist/sources/kubernetes/source.js');
  const MB = (b) => `${(b / 2 ** 20).toFixed(0)} MB`;
  const log = (s) => process.stderr.write(`${s}\n`);
  const child = fork(self, ['--serve', ...process.argv.slice(2)], {
    execArgv: ['--max-old-space-size=16384'],
  });
  const replies = [];
  let wake;
  child.on('message', (m) => {
    replies.push(m);
    wake?.();
  });
  const reply = async (cmd) => {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server process exited (${child.exitCode})`);
      const i = replies.findIndex((m) => m.cmd === cmd);
      if (i >= 0) return replies.splice(i, 1)[0];
      await new Promise((r) => (wake = r));
    }
  };
  const cleanup = () => child.exitCode === null && child.kill('SIGKILL');
  process.on('exit', cleanup);
  log(
    `generating ${size.nodes} nodes, ${size.pods} pods, ${size.policies} policies in the server process ...`,
  );
  const ready = await reply('ready');
  log(`served at ${ready.url}; a pod is ${ready.podBytes.toFixed(0)} bytes of JSON`);
  const perPod = await podFootprint();
  log(
    `heap per pod: ${perPod.raw} B as JSON.parse gives it, ${perPod.parsed} B parsed, ` +
      `${perPod.shared} B parsed with its ReplicaSet's parts shared`,
  );

  globalThis.gc();
  const before = process.memoryUsage();
  let latest;
  let seen = 0;
  const onCluster = (c) => {
    latest = { cluster: c, at: performance.now() };
    seen++;
  };
  const errors = [];
  const t0 = performance.now();
  const watch = await watchKubernetes(
    { server: new URL(ready.url), insecureSkipTlsVerify: false, origin: 'bench' },
    onCluster,
    (e) => errors.push(e),
    { pageSize: Number(values.page) },
  );
  const convergeMs = performance.now() - t0;
  const c = latest.cluster;
  globalThis.gc();
  const synced = process.memoryUsage();
  log(
    `first Cluster after ${(convergeMs / 1000).toFixed(2)} s: ${c.pods.length} pods, ${c.nodes.length} nodes, ` +
      `${c.networkPolicies.length} NetworkPolicies, ${c.clusterNetworkPolicies.length} ClusterNetworkPolicies, ${c.namespaces.size} namespaces`,
  );

  // Single events: one pod's labels change; time until a Cluster shows it.
  // Each new Cluster is checked once, after its arrival time is taken, so the
  // check (a scan of 100k pods) is not counted and does not delay the source much.
  const waitFor = async (pred, what = 'a Cluster with the change') => {
    const end = performance.now() + 120_000;
    let checked = -1;
    for (;;) {
      if (checked !== seen) {
        checked = seen;
        if (pred(latest.cluster)) return latest.at;
      }
      if (performance.now() > end) throw new Error(`no ${what} within 120 s`);
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  // Pods are sorted by namespace, then name: a binary search, which allocates nothing.
  const byKey = (cl, i) => {
    const { namespace, name } = podIdentity(i);
    let lo = 0;
    let hi = cl.pods.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = cl.pods[mid];
      const c =
        p.namespace < namespace
          ? -1
          : p.namespace > namespace
            ? 1
            : p.name < name
              ? -1
              : p.name > name
                ? 1
                : 0;
      if (c === 0) return p;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return undefined;
  };
  // The floor: an IPC round trip to the server process, which every event below pays.
  const pings = [];
  for (let n = 0; n < 20; n++) {
    const start = performance.now();
    child.send({ cmd: 'memory' });
    await reply('memory');
    pings.push(performance.now() - start);
  }
  pings.sort((a, b) => a - b);
  const latencies = [];
  const agentSide = [];
  const builds = [];
  for (let n = 0; n < Number(values.events); n++) {
    // Isolated events: the source paces Clusters at one per 5 ms, so leave a gap.
    await new Promise((r) => setTimeout(r, 50));
    const i = (n * 7919) % size.pods;
    const start = performance.now();
    child.send({ cmd: 'update', pods: [i] });
    const { version, writtenAt } = await reply('updated');
    const at = await waitFor((cl) => byKey(cl, i)?.labels.version === `v${version}`);
    latencies.push(at - start);
    agentSide.push(performance.timeOrigin + at - writtenAt);
    builds.push(watch.status().lastBuildMs);
  }
  // A burst: 1,000 pods relabelled at once.
  const burstPods = Array.from({ length: 1000 }, (_, j) => (j * 97) % size.pods);
  const clustersBefore = seen;
  const burstStart = performance.now();
  child.send({ cmd: 'update', pods: burstPods });
  const burst = await reply('updated');
  const last = burstPods[burstPods.length - 1];
  const burstAt = await waitFor((cl) => byKey(cl, last)?.labels.version === `v${burst.version}`);
  const burstMs = burstAt - burstStart;
  const burstAgentMs = performance.timeOrigin + burstAt - burst.writtenAt;
  const burstClusters = seen - clustersBefore;

  // 410 Gone: the pods watch breaks after a compaction; the whole collection is listed again.
  const relistsBefore = watch.status().resources.find((r) => r.resource === 'pods').relists;
  const relistStart = performance.now();
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  child.send({ cmd: 'compact-and-drop' });
  await reply('dropped');
  // A relist that finds nothing new makes no Cluster: poll the status instead.
  const podsStatus = () => watch.status().resources.find((r) => r.resource === 'pods');
  for (const end = performance.now() + 120_000; podsStatus().relists === relistsBefore;) {
    if (performance.now() > end) throw new Error('no relist of the pods within 120 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  const relistMs = performance.now() - relistStart;
  clearInterval(sampler);
  globalThis.gc();
  const afterRelist = process.memoryUsage();
  child.send({ cmd: 'memory' });
  const serverRss = (await reply('memory')).rss;

  const sorted = [...latencies].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const buildsSorted = [...builds].sort((a, b) => a - b);
  const result = {
    size,
    podJsonBytes: Math.round(ready.podBytes),
    convergeSeconds: +(convergeMs / 1000).toFixed(2),
    agentHeapMB: +((synced.heapUsed - before.heapUsed) / 2 ** 20).toFixed(0),
    agentHeapTotalMB: +(synced.heapUsed / 2 ** 20).toFixed(0),
    agentRssMB: +(synced.rss / 2 ** 20).toFixed(0),
    ipcRoundTripMs: +pings[10].toFixed(1),
    eventLatencyMs: {
      p50: +q(0.5).toFixed(1),
      p90: +q(0.9).toFixed(1),
      max: +sorted[sorted.length - 1].toFixed(1),
    },
    agentSideMs: {
      p50: +[...agentSide].sort((a, b) => a - b)[Math.floor(agentSide.length / 2)].toFixed(1),
    },
    assembleMs: { p50: +buildsSorted[Math.floor(buildsSorted.length / 2)].toFixed(1) },
    burst1000: {
      ms: +burstMs.toFixed(0),
      afterLastWriteMs: +burstAgentMs.toFixed(1),
      clusters: burstClusters,
    },
    relist: { seconds: +(relistMs / 1000).toFixed(2), peakRssMB: +(peakRss / 2 ** 20).toFixed(0) },
    afterRelist: {
      heapMB: +(afterRelist.heapUsed / 2 ** 20).toFixed(0),
      rssMB: +(afterRelist.rss / 2 ** 20).toFixed(0),
    },
    heapPerPodBytes: perPod,
    serverRssMB: +(serverRss / 2 ** 20).toFixed(0),
    errors: errors.length,
  };
  log(
    `agent: heap ${MB(synced.heapUsed)} (+${MB(synced.heapUsed - before.heapUsed)} for the source), RSS ${MB(synced.rss)}`,
  );
  log(
    `one event -> Cluster: p50 ${result.eventLatencyMs.p50} ms, p90 ${result.eventLatencyMs.p90} ms (IPC round trip ${result.ipcRoundTripMs} ms; from the server's write ${result.agentSideMs.p50} ms); assembling ${result.assembleMs.p50} ms`,
  );
  log(
    `1,000 updates at once -> ${burstClusters} Clusters, the last ${result.burst1000.ms} ms after the request (${result.burst1000.afterLastWriteMs} ms after the server's last write)`,
  );
  log(
    `relist after 410: ${result.relist.seconds} s, peak RSS ${result.relist.peakRssMB} MB; after: heap ${result.afterRelist.heapMB} MB`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
  watch.close();
  child.send({ cmd: 'exit' });
}
