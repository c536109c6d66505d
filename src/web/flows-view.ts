// The main view: filters, the service map, the detail panel and the live flow table.
import type { MapLayout } from '../ui-shared/map-layout.js';
import type { MapEdge, MapNode, ServiceMap } from '../core/flows/service-map.js';
import type { Entry } from '../ui-shared/feed-types.js';
import { edgeDetail, flowDetail, nodeDetail } from './detail.js';
import { clockTime, decisionText, endpointName, getJson, h } from './dom.js';
import { renderMap } from './map.js';

interface MapAnswer {
  readonly map: ServiceMap;
  readonly layout: MapLayout;
}

const MAX_ROWS = 300;
const WINDOWS = ['1m', '5m', '15m', '1h', ''];

type Selection =
  | { kind: 'edge'; id: string }
  | { kind: 'node'; id: string }
  | { kind: 'flow'; entry: Entry }
  | undefined;

export function flowsView(root: HTMLElement): () => void {
  const params = new URLSearchParams(location.search);
  const ns = h(
    'select',
    { name: 'namespace', 'data-filter': 'namespace' },
    h('option', { value: '' }, 'all namespaces'),
  );
  const verdict = h(
    'select',
    { name: 'verdict', 'data-filter': 'verdict' },
    h('option', { value: '' }, 'any verdict'),
    h('option', { value: 'forwarded' }, 'forwarded'),
    h('option', { value: 'dropped' }, 'dropped'),
  ) as HTMLSelectElement;
  const service = h(
    'select',
    { name: 'service', 'data-filter': 'service' },
    h('option', { value: '' }, 'any Service'),
  ) as HTMLSelectElement;
  const label = h('input', {
    name: 'label',
    'data-filter': 'label',
    placeholder: 'label selector, e.g. app=db',
    size: 22,
  }) as HTMLInputElement;
  const since = h(
    'select',
    { name: 'since', 'data-filter': 'since' },
    ...WINDOWS.map((w) => h('option', { value: w }, w ? `last ${w}` : 'all buffered')),
  ) as HTMLSelectElement;
  const error = h('span', { class: 'error', 'data-error': '' });
  const nsSelect = ns as HTMLSelectElement;
  nsSelect.value = params.get('namespace') ?? '';
  verdict.value = params.get('verdict') ?? '';
  addOptions(service, [params.get('service') ?? ''].filter(Boolean));
  service.value = params.get('service') ?? '';
  label.value = params.get('label') ?? '';
  since.value = params.get('since') ?? '15m';
  const mapBox = h('div', { class: 'map-box', 'data-map': '' });
  const panel = h(
    'aside',
    { class: 'panel' },
    h('p', { class: 'hint' }, 'Click an edge, a box or a flow for its details.'),
  );
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'flows', 'data-flows': '' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['time', 'node', 'source', 'destination', 'port', 'verdict', 'decided by'].map((t) =>
          h('th', {}, t),
        ),
      ),
    ),
    tbody,
  );
  root.replaceChildren(
    h('div', { class: 'filters' }, nsSelect, verdict, service, label, since, error),
    h('div', { class: 'top' }, mapBox, panel),
    h('div', { class: 'table-box' }, table),
  );

  let last: MapAnswer | undefined;
  let selection: Selection;
  let dirty = true;
  let source: EventSource | undefined;

  const query = () => {
    const q = new URLSearchParams();
    if (nsSelect.value) q.set('namespace', nsSelect.value);
    if (verdict.value) q.set('verdict', verdict.value);
    if (service.value) q.set('service', service.value);
    if (label.value.trim()) q.set('label', label.value.trim());
    if (since.value) q.set('since', since.value);
    return q;
  };

  const showPanel = () => {
    if (!selection) return;
    if (selection.kind === 'flow')
      return panel.replaceChildren(flowDetail(selection.entry.id, selection.entry.flow));
    const id = selection.id;
    if (selection.kind === 'edge') {
      const e = last?.map.edges.find((x) => x.id === id);
      if (e) panel.replaceChildren(edgeDetail(e));
    } else {
      const n = last?.map.nodes.find((x) => x.id === id);
      if (n) panel.replaceChildren(nodeDetail(n));
    }
  };
  const select = (s: Selection) => {
    selection = s;
    showPanel();
    drawMap();
  };
  const drawMap = () => {
    if (!last) return;
    const sel =
      selection && selection.kind !== 'flow' ? `${selection.kind}:${selection.id}` : undefined;
    if (last.map.nodes.length === 0) {
      mapBox.replaceChildren(
        h(
          'p',
          { class: 'hint' },
          'No flows match yet. Traffic between pods appears here within seconds.',
        ),
      );
      return;
    }
    mapBox.replaceChildren(
      renderMap(last.map, last.layout, {
        onEdge: (e: MapEdge) => select({ kind: 'edge', id: e.id }),
        onNode: (n: MapNode) => select({ kind: 'node', id: n.id }),
        ...(sel ? { selected: sel } : {}),
      }),
    );
  };
  const refreshMap = async () => {
    dirty = false;
    try {
      last = await getJson<MapAnswer>(`/api/map?${query().toString()}`);
      addOptions(
        nsSelect,
        last.map.nodes.map((n) => n.namespace).filter((x): x is string => !!x),
      );
      addOptions(
        service,
        last.map.nodes.filter((n) => n.kind === 'service').map((n) => `${n.namespace}/${n.name}`),
      );
      error.textContent = '';
      drawMap();
      showPanel();
    } catch (e) {
      error.textContent = (e as Error).message;
    }
  };
  const addRow = (entry: Entry) => {
    const f = entry.flow;
    const port =
      f.destination.port !== undefined ? `${f.destination.port}/${f.protocol}` : f.protocol;
    const tr = h(
      'tr',
      { class: f.verdict, 'data-flow': entry.id, onclick: () => select({ kind: 'flow', entry }) },
      h('td', {}, clockTime(f.time)),
      h('td', {}, `${f.node} ${f.direction === 'ingress' ? 'in' : 'out'}`),
      h('td', {}, endpointName(f.source)),
      h(
        'td',
        {},
        endpointName(f.destination),
        f.service
          ? h('span', { class: 'via' }, ` via ${f.service.namespace}/${f.service.name}`)
          : '',
      ),
      h('td', {}, port),
      h(
        'td',
        {},
        h('span', { class: `badge ${f.verdict}` }, f.event === 'drop' ? 'dropped' : f.event),
      ),
      h('td', { class: 'decided' }, decisionText(f.decidedBy)),
    );
    tbody.prepend(tr);
    while (tbody.children.length > MAX_ROWS) tbody.lastElementChild?.remove();
    dirty = true;
  };
  const connect = () => {
    source?.close();
    tbody.replaceChildren();
    source = new EventSource(`/api/stream?${query().toString()}`);
    source.onmessage = (m: MessageEvent<string>) => addRow(JSON.parse(m.data) as Entry);
  };
  const apply = () => {
    history.replaceState(null, '', `/?${query().toString()}`);
    selection = undefined;
    connect();
    void refreshMap();
  };
  for (const el of [nsSelect, verdict, service, since]) el.addEventListener('change', apply);
  label.addEventListener('change', apply);
  apply();
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
    if (dirty || ticks % 5 === 0) void refreshMap();
  }, 1000);
  return () => {
    clearInterval(timer);
    source?.close();
  };
}

/** Adds the values a select does not offer yet, in order. */
function addOptions(select: HTMLSelectElement, values: readonly string[]): void {
  const known = new Set([...select.options].map((o) => o.value));
  for (const v of [...new Set(values)].sort())
    if (!known.has(v)) select.append(h('option', { value: v }, v));
}
