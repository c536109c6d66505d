// The service map as SVG: boxes where the layout puts them (Services as
// hexagons of their own colour), edges as curves, allowed solid green,
// dropped dashed red, with ports and counts on each edge.
import type { LaidOutNode, MapLayout } from '../ui-shared/map-layout.js';
import type { MapEdge, MapNode, ServiceMap } from '../core/flows/service-map.js';
import { s } from './dom.js';

export interface MapHandlers {
  readonly onEdge: (e: MapEdge) => void;
  readonly onNode: (n: MapNode) => void;
  readonly selected?: string;
}

function portsLabel(e: MapEdge): string {
  const ports = e.ports.map((p) => (p.port !== undefined ? `${p.port}/${p.protocol}` : p.protocol));
  const shown =
    ports.length > 2 ? `${ports.slice(0, 2).join(', ')} +${ports.length - 2}` : ports.join(', ');
  const counts = [e.forwarded ? `\u2713${e.forwarded}` : '', e.dropped ? `\u2717${e.dropped}` : '']
    .filter(Boolean)
    .join(' ');
  return `${shown} ${counts}`.trim();
}

type Pt = readonly [number, number];

/** The point at `t` of a cubic Bezier curve. */
function at(p: readonly [Pt, Pt, Pt, Pt], t: number): Pt {
  const u = 1 - t;
  const w = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t] as const;
  return [0, 1].map((i) =>
    p.reduce((sum, q, k) => sum + (w[k] as number) * (q[i] as number), 0),
  ) as unknown as Pt;
}

/**
 * A curve from one box to another (boxes in one column get an arc on their
 * right), with its label a third of the way along, nearer the source, so
 * edges into one box keep their labels apart.
 */
function edgePath(a: LaidOutNode, b: LaidOutNode): { d: string; mx: number; my: number } {
  const ay = a.y + a.height / 2;
  const by = b.y + b.height / 2;
  let p: [Pt, Pt, Pt, Pt];
  if (a.x === b.x) {
    const x = a.x + a.width;
    const bulge = 40 + Math.abs(by - ay) / 4;
    p = [
      [x, ay],
      [x + bulge, ay],
      [x + bulge, by],
      [x + 6, by],
    ];
  } else {
    const forward = b.x > a.x;
    const x1 = forward ? a.x + a.width : a.x;
    const x2 = forward ? b.x - 6 : b.x + b.width + 6;
    const c = (x2 - x1) / 2;
    p = [
      [x1, ay],
      [x1 + c, ay],
      [x2 - c, by],
      [x2, by],
    ];
  }
  const [mx, my] = at(p, a.x === b.x ? 0.5 : 0.3);
  return {
    d: `M${p[0][0]},${p[0][1]} C${p[1][0]},${p[1][1]} ${p[2][0]},${p[2][1]} ${p[3][0]},${p[3][1]}`,
    mx,
    my,
  };
}

function defs(): SVGElement {
  const marker = (id: string) =>
    s(
      'marker',
      {
        id,
        viewBox: '0 0 10 10',
        refX: 9,
        refY: 5,
        markerWidth: 5,
        markerHeight: 5,
        orient: 'auto',
      },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrow ${id}` }),
    );
  return s('defs', {}, marker('arrow-forwarded'), marker('arrow-dropped'));
}

export function renderMap(map: ServiceMap, layout: MapLayout, on: MapHandlers): SVGElement {
  const at = new Map(layout.nodes.map((n) => [n.id, n]));
  const svg = s('svg', {
    viewBox: `0 0 ${layout.width + 60} ${layout.height}`,
    // Natural size, shrunk to fit but never blown up.
    width: layout.width + 60,
    height: layout.height,
    class: 'map',
    role: 'img',
    'aria-label': 'service map',
  });
  svg.append(defs());
  for (const c of layout.columns)
    svg.append(s('text', { x: c.x, y: 22, class: 'column' }, c.title));
  for (const e of map.edges) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (!a || !b) continue;
    const p = edgePath(a, b);
    const sel = on.selected === `edge:${e.id}` ? ' selected' : '';
    const g = s(
      'g',
      {
        class: `edge ${e.verdict}${sel}`,
        'data-edge': e.id,
        'data-verdict': e.verdict,
        tabindex: 0,
        onclick: () => on.onEdge(e),
      },
      s('title', {}, `${e.from} \u2192 ${e.to}: ${portsLabel(e)}`),
      s('path', { d: p.d, class: 'hit' }),
      s('path', { d: p.d, class: 'line', 'marker-end': `url(#arrow-${e.verdict})` }),
      s('text', { x: p.mx, y: p.my - 5, class: 'label', 'text-anchor': 'middle' }, portsLabel(e)),
    );
    svg.append(g);
  }
  for (const n of map.nodes) {
    const box = at.get(n.id);
    if (!box) continue;
    const sel = on.selected === `node:${n.id}` ? ' selected' : '';
    const inset = n.kind === 'service' ? SERVICE_INSET : 10;
    svg.append(
      s(
        'g',
        {
          class: `node ${n.kind}${sel}`,
          'data-node': n.id,
          'data-kind': n.kind,
          tabindex: 0,
          onclick: () => on.onNode(n),
        },
        n.kind === 'service'
          ? s('polygon', { points: hexagon(box) })
          : s('rect', { x: box.x, y: box.y, width: box.width, height: box.height, rx: 6 }),
        s('text', { x: box.x + inset, y: box.y + 18, class: 'name' }, n.name),
        s('text', { x: box.x + inset, y: box.y + 34, class: 'sub' }, subtitle(n)),
      ),
    );
  }
  return svg;
}

/** How far a Service's hexagon points in from its box's sides. */
const SERVICE_INSET = 14;

/** A Service's outline: a hexagon pointed left and right within its box. */
function hexagon(b: LaidOutNode): string {
  const midY = b.y + b.height / 2;
  const pts: Pt[] = [
    [b.x + SERVICE_INSET, b.y],
    [b.x + b.width - SERVICE_INSET, b.y],
    [b.x + b.width, midY],
    [b.x + b.width - SERVICE_INSET, b.y + b.height],
    [b.x + SERVICE_INSET, b.y + b.height],
    [b.x, midY],
  ];
  return pts.map(([x, y]) => `${x},${y}`).join(' ');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The second line of a box: what it groups, or a Service's first frontend. */
function subtitle(n: MapNode): string {
  switch (n.kind) {
    case 'world':
    case 'host':
      return plural(n.addresses.length, 'address', 'addresses');
    case 'service': {
      const [first, ...more] = n.frontends ?? [];
      const at = first ? ` \u00b7 ${first.ip}:${first.port}` : '';
      return `Service${at}${more.length ? ` +${more.length}` : ''}`;
    }
    case 'workload':
    case 'pod':
      return `${n.group} \u00b7 ${plural(n.pods.length, 'pod')}`;
  }
}
