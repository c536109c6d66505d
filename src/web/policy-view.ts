// The policy view (pick a workload: the policies selecting it, and its would-be
// verdicts against every peer) and the trace view (one connection, both sides).
import type { PolicyRef } from '../core/policy/ir.js';
import { policyRefText } from '../core/policy/ir.js';
import type { TraceJson, WorkloadPolicyView } from '../core/policy/node-irs.js';
import { getJson, h } from './dom.js';

interface Workload {
  readonly id: string;
  readonly name: string;
  readonly group: string;
  readonly pods: readonly string[];
}

function policyList(refs: readonly PolicyRef[], none: string): HTMLElement {
  if (refs.length === 0) return h('p', { class: 'hint' }, none);
  return h('ul', {}, ...refs.map((r) => h('li', { class: 'policy' }, policyRefText(r))));
}

const MARK = { yes: '\u2713', no: '\u2717', some: '\u00bd' } as const;

function matrix(v: WorkloadPolicyView): HTMLElement {
  const probe = (i: number) => `${v.probes[i]?.port}/${v.probes[i]?.protocol}`;
  const cells = (list: WorkloadPolicyView['peers'][number]['out'], dir: string) =>
    list.map((c, i) =>
      h(
        'td',
        { class: `cell ${c.allowed}`, title: c.reason, 'data-cell': `${dir} ${probe(i)}` },
        MARK[c.allowed],
      ),
    );
  return h(
    'table',
    { class: 'matrix', 'data-matrix': '' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { rowspan: 2 }, 'peer'),
        h('th', { colspan: v.probes.length }, 'to the peer (egress)'),
        h('th', { colspan: v.probes.length }, 'from the peer (ingress)'),
      ),
      h(
        'tr',
        {},
        ...[...v.probes, ...v.probes].map((_, i) => h('th', {}, probe(i % v.probes.length))),
      ),
    ),
    h(
      'tbody',
      {},
      ...v.peers.map((p) =>
        h(
          'tr',
          { 'data-peer': p.peer },
          h('td', {}, p.peer),
          ...cells(p.out, 'out'),
          ...cells(p.in, 'in'),
        ),
      ),
    ),
  );
}

export async function policyView(root: HTMLElement): Promise<void> {
  const params = new URLSearchParams(location.search);
  const { workloads } = await getJson<{ workloads: Workload[] }>('/api/workloads');
  const pick = h(
    'select',
    { name: 'workload', 'data-workload': '' },
    h('option', { value: '' }, 'pick a workload'),
    ...workloads.map((w) =>
      h(
        'option',
        { value: w.id },
        `${w.id} (${w.pods.length} pod${w.pods.length === 1 ? '' : 's'})`,
      ),
    ),
  ) as HTMLSelectElement;
  const ports = h('input', {
    name: 'port',
    placeholder: 'ports, e.g. 80/TCP 53/UDP',
    size: 24,
  }) as HTMLInputElement;
  pick.value = params.get('workload') ?? '';
  ports.value = params.getAll('port').join(' ');
  const body = h('div', { class: 'policy-body' });
  root.replaceChildren(h('div', { class: 'filters' }, pick, ports), body);
  const show = async () => {
    const q = new URLSearchParams();
    if (pick.value) q.set('workload', pick.value);
    for (const p of ports.value.split(/[\s,]+/).filter(Boolean)) q.append('port', p);
    history.replaceState(null, '', `/policy?${q.toString()}`);
    if (!pick.value)
      return body.replaceChildren(
        h('p', { class: 'hint' }, 'Pick a workload to see the policies selecting it.'),
      );
    try {
      const a = await getJson<{ workload: Workload; view: WorkloadPolicyView; errors: string[] }>(
        `/api/policy?${q.toString()}`,
      );
      body.replaceChildren(
        h('h2', {}, `${a.workload.id} \u00b7 ${a.workload.group}`),
        h('p', {}, `pods: ${a.view.members.join(', ') || '(none with their own network)'}`),
        h(
          'div',
          { class: 'cols' },
          h(
            'section',
            { 'data-selecting': 'ingress' },
            h('h3', {}, 'Ingress: selected by'),
            policyList(a.view.ingress, 'no policy: every peer may connect'),
          ),
          h(
            'section',
            { 'data-selecting': 'egress' },
            h('h3', {}, 'Egress: selected by'),
            policyList(a.view.egress, 'no policy: it may connect anywhere'),
          ),
        ),
        h('h3', {}, 'Would-be verdicts against every peer (hover a cell for why)'),
        matrix(a.view),
        ...a.errors.map((e) => h('p', { class: 'error' }, e)),
      );
    } catch (e) {
      body.replaceChildren(h('p', { class: 'error' }, (e as Error).message));
    }
  };
  pick.addEventListener('change', () => void show());
  ports.addEventListener('change', () => void show());
  await show();
}

export async function traceView(root: HTMLElement): Promise<void> {
  const params = new URLSearchParams(location.search);
  const q = `from ${params.get('from')} to ${params.get('to')} port ${params.get('port')}`;
  root.replaceChildren(h('p', {}, `tracing ${q} \u2026`));
  try {
    const t = await getJson<TraceJson & { errors: string[] }>(`/api/trace?${params.toString()}`);
    const side = (d: TraceJson['egress']) =>
      h(
        'div',
        { class: `side ${d.allowed ? 'forwarded' : 'dropped'}`, 'data-side': d.direction },
        h('h3', {}, `${d.direction}: ${d.allowed ? 'allowed' : 'DENIED'}`),
        h('p', { class: 'reason' }, d.reason),
      );
    const end = (e: TraceJson['from']) => (e.pod ? `${e.pod} (${e.ip})` : e.ip);
    root.replaceChildren(
      h(
        'section',
        { class: 'trace-view', 'data-trace-result': t.verdict },
        h('h2', {}, 'Policy trace'),
        h(
          'p',
          { class: 'cmd' },
          `weft policy trace --from ${params.get('from')} --to ${params.get('to')} --port ${t.port}/${t.protocol}`,
        ),
        h('div', { class: 'row' }, h('span', { class: 'k' }, 'from'), h('span', {}, end(t.from))),
        h('div', { class: 'row' }, h('span', { class: 'k' }, 'to'), h('span', {}, end(t.to))),
        h(
          'div',
          { class: 'row' },
          h('span', { class: 'k' }, 'port'),
          h('span', {}, `${t.port}/${t.protocol}`),
        ),
        h(
          'div',
          { class: `verdict ${t.verdict}` },
          t.verdict === 'allowed' ? 'ALLOWED' : 'DENIED (dropped)',
        ),
        side(t.egress),
        side(t.ingress),
        ...t.errors.map((e) => h('p', { class: 'error' }, e)),
        h('p', {}, h('a', { href: '/' }, '\u2190 back to the map')),
      ),
    );
  } catch (e) {
    root.replaceChildren(h('p', { class: 'error' }, `${q}: ${(e as Error).message}`));
  }
}
