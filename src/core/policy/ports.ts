import type { Protocol } from '../model/types.js';
import type { IrPort } from './ir.js';

/**
 * A rule's ports as few entries as mean the same: per protocol, one
 * every-port entry when the rule has one, else its ports and ranges sorted,
 * duplicates dropped and overlapping or adjacent ones merged (80, 81, 82-90
 * become 80-90). A protocol's entries stand where its first port was
 * written; named ports stay as they are, in place.
 */
export function normalizePorts(ports: readonly IrPort[]): IrPort[] {
  const whole = new Set<Protocol>();
  const ranges = new Map<Protocol, { from: number; to: number }[]>();
  for (const p of ports) {
    if (p.kind === 'named') continue;
    if (p.kind === 'protocol') whole.add(p.protocol);
    else {
      let list = ranges.get(p.protocol);
      if (!list) ranges.set(p.protocol, (list = []));
      list.push({ from: p.from, to: p.to });
    }
  }
  // Each protocol's entries stand where its first port stood; named ports stay in place.
  const out: IrPort[] = [];
  const placed = new Set<Protocol>();
  for (const p of ports) {
    if (p.kind === 'named') {
      out.push(p);
      continue;
    }
    if (placed.has(p.protocol)) continue;
    placed.add(p.protocol);
    if (whole.has(p.protocol)) out.push({ kind: 'protocol', protocol: p.protocol });
    else
      for (const r of mergeRanges(ranges.get(p.protocol) ?? []))
        out.push({ kind: 'range', protocol: p.protocol, from: r.from, to: r.to });
  }
  return out;
}

function mergeRanges(list: { from: number; to: number }[]): { from: number; to: number }[] {
  const sorted = [...list].sort((a, b) => a.from - b.from || a.to - b.to);
  const out: { from: number; to: number }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}
