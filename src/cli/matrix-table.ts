import type { Matrix } from '../core/policy/matrix-report.js';

/** Above this many pods the grid is unreadable; list the denied pairs instead. */
const GRID_LIMIT = 40;

/**
 * The matrix for a person: a grid (rows: from, columns: to by number) with
 * `.` for allowed and `X` for denied; for large clusters, counts and the
 * denied pairs.
 */
export function renderMatrixTable(m: Matrix): string {
  const out: string[] = [];
  const n = m.pods.length;
  for (const { probe, allowed } of m.probes) {
    let denied = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (!allowed(i, j)) denied++;
    out.push(
      `${probe.port}/${probe.protocol}: ${n * n - denied} of ${n * n} pairs allowed, ${denied} denied`,
    );
    if (n <= GRID_LIMIT) out.push(grid(m, allowed), '');
    else out.push(deniedList(m, allowed), '');
  }
  if (n <= GRID_LIMIT) out.push('rows: from; columns: to; . allowed, X denied');
  return out.join('\n').trimEnd();
}

function grid(m: Matrix, allowed: (i: number, j: number) => boolean): string {
  const n = m.pods.length;
  const width = Math.max(...m.pods.map((p, i) => `${i + 1} ${p}`.length));
  const numbers = m.pods.map((_, j) => String(j + 1).padStart(3)).join('');
  const rows = m.pods.map((p, i) => {
    const cells = Array.from({ length: n }, (_, j) => (allowed(i, j) ? '.' : 'X').padStart(3)).join(
      '',
    );
    return `${`${i + 1} ${p}`.padEnd(width)} ${cells}`;
  });
  return [`${''.padEnd(width)} ${numbers}`, ...rows].join('\n');
}

function deniedList(m: Matrix, allowed: (i: number, j: number) => boolean): string {
  const lines: string[] = [];
  const limit = 50;
  let shown = 0;
  for (let i = 0; i < m.pods.length && shown < limit; i++) {
    for (let j = 0; j < m.pods.length && shown < limit; j++) {
      if (!allowed(i, j)) {
        lines.push(`  X ${m.pods[i]} -> ${m.pods[j]}`);
        shown++;
      }
    }
  }
  if (shown === limit) lines.push(`  ... (use -o json for every pair)`);
  return lines.join('\n');
}
