import { byText, type MapNode, type ServiceMap } from '../core/flows/service-map.js';

/**
 * A deterministic layout of the service map: one column per namespace
 * (sorted by name), its Services in a column of their own right after it,
 * then one column for nodes and the world; inside a column, nodes sorted by
 * name. Coordinates are SVG user units; the page scales the whole drawing to
 * its width. The UI server lays the map out (ui/api.ts), the page draws it
 * (web/map.ts).
 */

export const LAYOUT = {
  columnWidth: 300,
  nodeWidth: 170,
  nodeHeight: 44,
  rowHeight: 70,
  top: 44,
  left: 20,
} as const;

export interface LaidOutNode {
  readonly id: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface LayoutColumn {
  readonly title: string;
  readonly x: number;
}

export interface MapLayout {
  readonly width: number;
  readonly height: number;
  readonly columns: readonly LayoutColumn[];
  readonly nodes: readonly LaidOutNode[];
}

/** The column a node goes in: its namespace, or "outside pods" for hosts and the world. */
export const OUTSIDE_COLUMN = 'hosts & world';

/** The column of a namespace's Services. */
export function servicesColumn(namespace: string): string {
  return `${namespace} \u00b7 Services`;
}

function columnOf(n: MapNode): string {
  if (n.namespace === undefined) return OUTSIDE_COLUMN;
  return n.kind === 'service' ? servicesColumn(n.namespace) : n.namespace;
}

export function layoutServiceMap(map: ServiceMap): MapLayout {
  const byColumn = new Map<string, MapNode[]>();
  for (const n of map.nodes) {
    const c = columnOf(n);
    byColumn.set(c, [...(byColumn.get(c) ?? []), n]);
  }
  const namespaces = [...new Set(map.nodes.flatMap((n) => n.namespace ?? []))].sort(byText);
  const titles = namespaces
    .flatMap((ns) => [ns, servicesColumn(ns)])
    .filter((t) => byColumn.has(t));
  if (byColumn.has(OUTSIDE_COLUMN)) titles.push(OUTSIDE_COLUMN);
  const columns: LayoutColumn[] = [];
  const nodes: LaidOutNode[] = [];
  let rows = 0;
  titles.forEach((title, i) => {
    const x = LAYOUT.left + i * LAYOUT.columnWidth;
    columns.push({ title, x });
    const members = [...(byColumn.get(title) ?? [])].sort(
      (a, b) => byText(a.name, b.name) || byText(a.id, b.id),
    );
    rows = Math.max(rows, members.length);
    members.forEach((n, row) =>
      nodes.push({
        id: n.id,
        x,
        y: LAYOUT.top + row * LAYOUT.rowHeight,
        width: LAYOUT.nodeWidth,
        height: LAYOUT.nodeHeight,
      }),
    );
  });
  return {
    width: Math.max(1, titles.length) * LAYOUT.columnWidth + LAYOUT.left,
    height: LAYOUT.top + Math.max(1, rows) * LAYOUT.rowHeight,
    columns,
    nodes,
  };
}
