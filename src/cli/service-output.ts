import { table } from './output.js';
import type {
  EndpointJson,
  NodePortJson,
  PortJson,
  ServiceJson,
  ServiceListJson,
} from './service-view.js';

/** `weft service list` for a person: Services, their endpoints, each node's view, what is not proxied. */
export function serviceListText(list: ServiceListJson): string {
  const out: string[] = [];
  if (list.services.length === 0) out.push('no Services that get rules');
  else {
    out.push(servicesTable(list.services), '');
    const endpoints = endpointRows(list.services);
    out.push(
      endpoints.length > 0
        ? table(
            [
              'SERVICE',
              'PORT',
              'ENDPOINT',
              'POD',
              'NODE',
              'ZONE',
              'READY',
              'SERVING',
              'TERMINATING',
            ],
            endpoints,
          )
        : 'no endpoints',
      '',
    );
    const nodes = nodeRows(list.services);
    if (nodes.length > 0)
      out.push(
        table(['NODE', 'SERVICE PORT', 'NODE PORTS', 'LOCAL ENDPOINTS', 'TRAFFIC HERE'], nodes),
        '',
      );
  }
  if (list.ignored.length > 0)
    out.push(
      table(
        ['NOT PROXIED', 'WHY'],
        list.ignored.map((s) => [`${s.namespace}/${s.name}`, s.detail]),
      ),
    );
  return out.join('\n').trimEnd();
}

/** The Services table of `service list` and `lab status`. */
export function servicesTable(services: readonly ServiceJson[]): string {
  return table(
    ['SERVICE', 'TYPE', 'CLUSTER-IP', 'EXTERNAL', 'PORTS', 'ENDPOINTS', 'SETTINGS'],
    services.map((s) => [
      `${s.namespace}/${s.name}`,
      s.type,
      s.clusterIPs.join(',') || '-',
      external(s) || '-',
      s.ports.map(portText).join(', '),
      endpointCount(s),
      settings(s).join(', ') || '-',
    ]),
  );
}

/** What is not the default: traffic policies, affinity, source ranges. */
function settings(s: ServiceJson): string[] {
  const out: string[] = [];
  if (s.externalTrafficPolicy === 'Local') out.push('externalTrafficPolicy Local');
  if (s.internalTrafficPolicy === 'Local') out.push('internalTrafficPolicy Local');
  if (s.sessionAffinity === 'ClientIP')
    out.push(`affinity ClientIP ${s.affinityTimeoutSeconds ?? ''}s`);
  if (s.loadBalancerSourceRanges.length > 0)
    out.push(`sources ${s.loadBalancerSourceRanges.join(' ')}`);
  if (s.healthCheckNodePort !== undefined) out.push(`health check ${s.healthCheckNodePort}`);
  return out;
}

function external(s: ServiceJson): string {
  const lb = s.loadBalancerIPs.map((i) => `${i.ip}${i.ipMode === 'Proxy' ? ' (Proxy)' : ''}`);
  return [...s.externalIPs, ...lb].join(',');
}

function portText(p: PortJson): string {
  const name = p.name ? `${p.name} ` : '';
  const node = p.nodePort !== undefined ? ` node ${p.nodePort}` : '';
  return `${name}${p.port}->${p.targetPort}/${p.protocol}${node}`;
}

/** `2 ready, 1 terminating`: endpoints counted by address, over every port. */
function endpointCount(s: ServiceJson): string {
  const state = new Map<string, 'ready' | 'terminating' | 'not ready'>();
  for (const p of s.ports)
    for (const e of p.endpoints) {
      const now = e.ready ? 'ready' : e.serving && e.terminating ? 'terminating' : 'not ready';
      if (state.get(e.ip) !== 'ready') state.set(e.ip, now);
    }
  const counts = (['ready', 'terminating', 'not ready'] as const)
    .map((k) => [k, [...state.values()].filter((v) => v === k).length] as const)
    .filter(([, n]) => n > 0);
  return counts.map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
}

const yes = (b: boolean) => (b ? 'yes' : 'no');

function endpointRows(services: readonly ServiceJson[]): string[][] {
  return services.flatMap((s) =>
    s.ports.flatMap((p) =>
      p.endpoints.map((e) => [
        `${s.namespace}/${s.name}`,
        `${p.name || p.port}/${p.protocol}`,
        `${e.ip}:${e.port}`,
        e.pod ?? e.target ?? '-',
        e.node ?? '-',
        e.zone ?? '-',
        yes(e.ready),
        yes(e.serving),
        yes(e.terminating),
      ]),
    ),
  );
}

function nodeRows(services: readonly ServiceJson[]): string[][] {
  const rows: { node: string; cells: string[] }[] = [];
  for (const s of services) {
    for (const n of s.nodes) {
      for (const p of n.ports) {
        const port = s.ports.find((x) => x.name === p.name && x.protocol === p.protocol);
        const here = (port?.endpoints ?? []).filter((e) => e.node === n.node);
        const notes = trafficNotes(p);
        if (n.healthCheck)
          notes.push(`health check :${n.healthCheck.nodePort} answers ${n.healthCheck.status}`);
        rows.push({
          node: n.node,
          cells: [
            n.node,
            `${s.namespace}/${s.name}:${p.name || port?.port}/${p.protocol}`,
            p.nodePorts.join(', ') || '-',
            here.map(localText).join(', ') || '-',
            notes.join('; ') || '-',
          ],
        });
      }
    }
  }
  return rows.sort((a, b) => a.node.localeCompare(b.node)).map((r) => r.cells);
}

function localText(e: EndpointJson): string {
  const state = e.ready ? '' : e.serving && e.terminating ? ' (terminating)' : ' (not ready)';
  return `${e.ip}:${e.port}${state}`;
}

/** What differs from "to any endpoint" for traffic arriving at this node. */
function trafficNotes(p: NodePortJson): string[] {
  const notes: string[] = [];
  const internal = p.internal.steps[0];
  if (internal?.verdict === 'reject') return ['rejected: no endpoints'];
  if (internal?.verdict === 'drop') notes.push('ClusterIP dropped: no local endpoint');
  else if (internal?.verdict === 'local endpoints') notes.push('ClusterIP to local endpoints only');
  const outside = p.external?.steps.at(-1);
  if (p.external?.policy === 'Local' && outside) {
    notes.push(
      outside.verdict === 'drop'
        ? 'from outside dropped: no local endpoint'
        : 'from outside to local endpoints, client address kept',
    );
  }
  return notes;
}
