// The detail panel: one edge of the map, one map node, or one flow.
import type { MapEdge, MapNode } from '../core/flows/service-map.js';
import type { Flow, FlowAddress, FlowEndpoint } from '../core/flows/types.js';
import { decidingPolicies } from '../core/flows/types.js';
import { policyRefText } from '../core/policy/ir.js';
import { clockTime, decisionText, endpointName, h, traceHref } from './dom.js';
import { serviceDetail } from './service-detail.js';

function row(label: string, ...value: (Node | string)[]): HTMLElement {
  return h(
    'div',
    { class: 'row' },
    h('span', { class: 'k' }, label),
    h('span', { class: 'v' }, ...value),
  );
}

function verdictBadge(v: string): HTMLElement {
  return h('span', { class: `badge ${v}` }, v);
}

function traceLink(from: FlowEndpoint, to: FlowEndpoint, protocol: string): HTMLElement | string {
  const href = traceHref(from, to, protocol);
  return href
    ? h('a', { href, class: 'trace', 'data-trace': href }, 'trace this connection \u2192')
    : '';
}

function endpointText(e: FlowEndpoint): string {
  const port = e.port !== undefined ? `:${e.port}` : '';
  const labels =
    e.kind === 'pod' && Object.keys(e.labels).length > 0
      ? ` {${Object.entries(e.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}}`
      : '';
  return `${endpointName(e)} (${e.ip}${port})${labels}`;
}

function addressText(a: FlowAddress): string {
  const ip = a.ip.includes(':') ? `[${a.ip}]` : a.ip;
  return a.port === undefined ? a.ip : `${ip}:${a.port}`;
}

/** `shop/api:http, ClusterIP 10.96.0.10:80`. */
export function viaText(f: Flow): string {
  const s = f.service;
  if (!s) return '';
  return `${s.namespace}/${s.name}${s.portName ? `:${s.portName}` : ''}, ${s.frontend.kind} ${addressText(s.frontend)}`;
}

export function edgeDetail(e: MapEdge): HTMLElement {
  const f = e.sample;
  const policies = e.policies.length
    ? h('ul', {}, ...e.policies.map((p) => h('li', { class: 'policy' }, policyRefText(p))))
    : 'none (no policy decided these flows)';
  return h(
    'section',
    { class: 'detail', 'data-detail': `edge:${e.id}` },
    h('h2', {}, 'Connection'),
    row('from', e.from),
    row('to', e.to),
    row('verdict', verdictBadge(e.verdict), ` latest at ${clockTime(e.lastSeen)}`),
    row('decided by', h('span', { class: 'decided' }, decisionText(e.decidedBy))),
    row(
      'ports',
      h(
        'ul',
        {},
        ...e.ports.map((p) =>
          h(
            'li',
            {},
            `${p.port ?? ''}${p.port !== undefined ? '/' : ''}${p.protocol}: ${p.forwarded} allowed, ${p.dropped} dropped`,
          ),
        ),
      ),
    ),
    row('bytes', String(e.bytes)),
    row('policies', policies),
    row('example', `${endpointText(f.source)} \u2192 ${endpointText(f.destination)}`),
    f.service ? row('via Service', viaText(f)) : '',
    traceLink(f.source, f.destination, f.protocol),
  );
}

export function nodeDetail(n: MapNode): HTMLElement {
  if (n.kind === 'service') return serviceDetail(n, row);
  const policy =
    n.kind === 'workload' || n.kind === 'pod'
      ? h(
          'a',
          { href: `/policy?workload=${encodeURIComponent(n.id)}`, class: 'trace' },
          'policies and verdicts of this workload \u2192',
        )
      : '';
  return h(
    'section',
    { class: 'detail', 'data-detail': `node:${n.id}` },
    h('h2', {}, n.name),
    row('kind', n.group),
    n.namespace ? row('namespace', n.namespace) : '',
    n.pods.length ? row('pods', h('ul', {}, ...n.pods.map((p) => h('li', {}, p)))) : '',
    n.addresses.length
      ? row('addresses', h('ul', {}, ...n.addresses.map((a) => h('li', {}, a))))
      : '',
    policy,
  );
}

export function flowDetail(id: number, f: Flow): HTMLElement {
  const policies = decidingPolicies(f.decidedBy);
  return h(
    'section',
    { class: 'detail', 'data-detail': `flow:${id}` },
    h('h2', {}, `Flow ${f.event}`),
    row('time', `${new Date(f.time).toISOString()}`),
    row('node', `${f.node} (${f.direction})`),
    row('source', endpointText(f.source)),
    row('destination', endpointText(f.destination)),
    f.service ? row('via Service', h('span', { 'data-via': '' }, viaText(f))) : '',
    f.translatedFrom ? row('addressed', addressText(f.translatedFrom)) : '',
    f.masqueraded
      ? row('masqueraded', `the destination saw it from ${addressText(f.masqueraded)}`)
      : '',
    row('protocol', `${f.protocol}${f.tcpFlags?.length ? ` [${f.tcpFlags.join(',')}]` : ''}`),
    row('verdict', verdictBadge(f.verdict)),
    row('decided by', h('span', { class: 'decided' }, decisionText(f.decidedBy))),
    policies.length
      ? row(
          'policies',
          h('ul', {}, ...policies.map((p) => h('li', { class: 'policy' }, policyRefText(p)))),
        )
      : '',
    f.event === 'end'
      ? row(
          'counters',
          `${f.counters.original.packets} pkts / ${f.counters.original.bytes} B out, ${f.counters.reply.packets} pkts / ${f.counters.reply.bytes} B back`,
        )
      : '',
    traceLink(f.source, f.destination, f.protocol),
  );
}
