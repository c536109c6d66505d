import type { Matrix } from '../core/policy/matrix-report.js';

/** Above this many columns the grid is unreadable; list the denied pairs instead. */
const GRID_LIMIT = 40;

type Cells = Matrix['probes'][number];

/**
 * The matrix for a person: a grid (rows: from, columns: to by number) with
 * `.` for allowed and `X` for denied (and any mark the matrix adds); for
 * large clusters, counts and the denied pairs.
 */
export function renderMatrixTable(m: Matrix, legend = '. allowed, X denied'): string {
  const out: string[] = [];
  const cells = m.from.length * m.to.length;
  const small = m.to.length <= GRID_LIMIT;
  for (const c of m.probes) {
    let denied = 0;
    for (let i = 0; i < m.from.length; i++)
      for (let j = 0; j < m.to.length; j++) if (!c.allowed(i, j)) denied++;
    out.push(
      `${c.probe.port}/${c.probe.protocol}: ${cells - denied} of ${cells} pairs allowed, ${denied} denied`,
    );
    out.push(small ? grid(m, c) : deniedList(m, c), '');
  }
  if (small) out.push(`rows: from; columns: to; ${legend}`);
  return out.join('\n').trimEnd();
}

function grid(m: Matrix, c: Cells): string {
  const names = m.to.map((p, j) => `${j + 1} ${p}`);
  const rowNames = m.from.map((p) => {
    const j = m.to.indexOf(p);
    return j >= 0 ? `${j + 1} ${p}` : `  ${p}`;
  });
  const width = Math.max(...rowNames.map((n) => n.length));
  const numbers = names.map((_, j) => String(j + 1).padStart(3)).join('');
  const rows = rowNames.map((name, i) => {
    const row = m.to
      .map((_, j) => (c.mark?.(i, j) ?? (c.allowed(i, j) ? '.' : 'X')).padStart(3))
      .join('');
    return `${name.padEnd(width)} ${row}`;
  });
  return [`${''.padEnd(width)} ${numbers}`, ...rows].join('\n');
}

function deniedList(m: Matrix, c: Cells): string {
  const lines: string[] = [];
  const limit = 50;
  for (let i = 0; i < m.from.length && lines.length < limit; i++) {
    for (let j = 0; j < m.to.length && lines.length < limit; j++) {
      if (!c.allowed(i, j)) lines.push(`  X ${m.from[i]} -> ${m.to[j]}`);
    }
  }
  if (lines.length === limit) lines.push('  ... (use -o json for every pair)');
  return lines.join('\n');
}
