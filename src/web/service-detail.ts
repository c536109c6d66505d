// The detail panel of a Service: the frontends and endpoints flows reached
// (from the map), and its frontends and endpoints as the cluster says them
// (from /api/service, where the UI reads the cluster's objects).
import type { MapFrontend, MapNode } from '../core/flows/service-map.js';
import type {
  ServiceAnswer,
  ServiceEndpointView,
  ServiceFrontendView,
} from '../ui-shared/feed-types.js';
import { getJson, h } from './dom.js';

type Row = (label: string, ...value: (Node | string)[]) => HTMLElement;

/** How long an answer of /api/service is shown before it is asked again. */
const FRESH_MS = 5000;
const answers = new Map<string, { at: number; answer: Promise<ServiceAnswer> }>();

function answerOf(n: MapNode): Promise<ServiceAnswer> {
  const cached = answers.get(n.id);
  if (cached && Date.now() - cached.at < FRESH_MS) return cached.answer;
  const q = new URLSearchParams({ service: `${n.namespace ?? ''}/${n.name}` });
  const answer = getJson<ServiceAnswer>(`/api/service?${q.toString()}`).catch(
    (e: Error): ServiceAnswer => ({ reason: e.message }),
  );
  answers.set(n.id, { at: Date.now(), answer });
  return answer;
}

function frontendText(f: MapFrontend | ServiceFrontendView): string {
  const ip = f.ip.includes(':') ? `[${f.ip}]` : f.ip;
  const name = f.portName ? ` (${f.portName})` : '';
  const node = 'node' in f && f.node ? ` on ${f.node}` : '';
  return `${f.kind} ${ip}:${f.port}/${f.protocol}${name}${node}`;
}

function endpointText(e: ServiceEndpointView): string {
  const state = e.ready ? 'ready' : e.serving ? 'serving' : 'not ready';
  const ending = e.terminating ? ', terminating' : '';
  const who = [e.target, e.nodeName ? `on ${e.nodeName}` : ''].filter(Boolean).join(' ');
  return `${e.ip}:${e.port}/${e.protocol} ${who} (${state}${ending})`.replace(/ +/g, ' ');
}

function list(items: readonly string[], attr: string): HTMLElement {
  return h('ul', { [attr]: '' }, ...items.map((t) => h('li', {}, t)));
}

/** The cluster's view, filled in when /api/service answers. */
function fill(box: HTMLElement, a: ServiceAnswer, row: Row): void {
  const s = a.service;
  if (!s) {
    box.replaceChildren(h('p', { class: 'hint' }, a.reason ?? 'unknown'));
    return;
  }
  box.replaceChildren(
    h('h3', {}, `In the cluster (${s.type})`),
    s.ignored ? row('proxy', `no rules: ${s.ignored}`) : '',
    row(
      'frontends',
      s.frontends.length ? list(s.frontends.map(frontendText), 'data-frontends') : 'none',
    ),
    row(
      'endpoints',
      s.endpoints.length ? list(s.endpoints.map(endpointText), 'data-endpoints') : 'none',
    ),
  );
}

export function serviceDetail(n: MapNode, row: Row): HTMLElement {
  const model = h('div', { class: 'service-model', 'data-service-model': '' });
  void answerOf(n).then((a) => fill(model, a, row));
  const reached = [...n.pods, ...n.addresses];
  return h(
    'section',
    { class: 'detail', 'data-detail': `node:${n.id}` },
    h('h2', {}, `${n.namespace ?? ''}/${n.name}`),
    row('kind', 'Service'),
    row('addressed', list((n.frontends ?? []).map(frontendText), 'data-frontends-seen')),
    row('reached', list(reached, 'data-endpoints-seen')),
    model,
  );
}
