const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION = /^((\d+(\.\d+)?)(ms|s|m|h|d))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** A duration such as `90s`, `5m`, `1h30m`, `1.5h`, `2d`, `250ms`, in ms; undefined if not one. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(DURATION_PART))
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return total;
}

/**
 * A point in time for `--since`/`--until`: an RFC 3339 timestamp, or a
 * duration meaning that long before `now` (Unix ms). Returns Unix ms, or why
 * the text is neither.
 */
export function parseSince(text: string, now: number): number | string {
  const d = parseDuration(text);
  if (d !== undefined) return now - d;
  const m = RFC3339.exec(text);
  if (m) {
    const t = rfc3339Ms(m);
    return t ?? 'is not a valid date and time';
  }
  return 'must be a duration (30s, 5m, 1h30m) or an RFC 3339 time (2025-01-31T12:00:00Z)';
}

function rfc3339Ms(m: RegExpExecArray): number | undefined {
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const fraction = m[7] ? Number(`0${m[7]}`) * 1000 : 0;
  const zone = (m[8] as string).toUpperCase();
  const base = Date.UTC(year!, month! - 1, day!, hour!, minute!, Math.min(second!, 59));
  const check = new Date(base);
  // Date.UTC rolls over (Feb 30 -> Mar 2); a real date comes back unchanged.
  if (
    month! < 1 ||
    check.getUTCMonth() !== month! - 1 ||
    check.getUTCDate() !== day ||
    hour! > 23 ||
    minute! > 59 ||
    second! > 60
  )
    return undefined;
  const offset =
    zone === 'Z'
      ? 0
      : (zone.startsWith('-') ? -1 : 1) *
        (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  if (offset !== 0 && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59))
    return undefined;
  return base + (second! === 60 ? 1000 : 0) + fraction - offset * 60_000;
}
