/**
 * Parses the event lines of `conntrack -E -o extended,timestamp,id`
 * (conntrack-tools 1.4), e.g.
 *
 *   [1700000000.123456]	[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=10.0.1.2
 *   dst=10.0.2.2 sport=41000 dport=80 packets=5 bytes=273 src=10.0.2.2
 *   dst=10.0.1.2 sport=80 dport=41000 packets=5 bytes=5268 [ASSURED]
 *   delta-time=1 id=1819001248
 *
 * Field by field: reception time; event type; layer 3 name and number;
 * layer 4 name and number; the timeout (NEW and UPDATE); the TCP/SCTP state;
 * the original tuple (addresses, ports or ICMP type/code/id, counters when
 * nf_conntrack_acct is on); the reply tuple; flags in brackets; then meta
 * fields (mark, zone, use, delta-time, id…). ICMP tuples have their own `id`,
 * so the conntrack id is the `id` that comes after the reply tuple.
 */

export type ConntrackEventType = 'new' | 'update' | 'destroy';

export interface ConntrackTuple {
  readonly src: string;
  readonly dst: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly icmp?: { readonly type: number; readonly code: number; readonly id?: number };
  /** With nf_conntrack_acct=1 (counted for this direction, IP headers included). */
  readonly packets?: number;
  readonly bytes?: number;
}

export interface ConntrackEvent {
  readonly type: ConntrackEventType;
  /** Unix ms when conntrack received the event. */
  readonly time: number;
  readonly family: 4 | 6;
  /** Layer 4 name as conntrack prints it: tcp, udp, icmp, icmpv6, sctp, unknown… */
  readonly protocol: string;
  readonly protocolNumber: number;
  /** Seconds left (NEW and UPDATE events). */
  readonly timeout?: number;
  /** TCP/SCTP state, e.g. SYN_SENT, ESTABLISHED, TIME_WAIT. */
  readonly state?: string;
  readonly original: ConntrackTuple;
  readonly reply: ConntrackTuple;
  /** Bracketed flags: ASSURED, UNREPLIED, OFFLOAD… */
  readonly flags: readonly string[];
  readonly mark?: number;
  readonly zone?: number;
  /** The conntrack id (`-o id`). */
  readonly id?: number;
  /** Seconds the entry lived (DESTROY, with nf_conntrack_timestamp=1). */
  readonly deltaTime?: number;
  /** Other `key=value` fields, as printed. */
  readonly extra?: Readonly<Record<string, string>>;
}

export type ConntrackParse =
  | { readonly ok: true; readonly event: ConntrackEvent }
  | { readonly ok: false; readonly reason: string };

const TYPES: Readonly<Record<string, ConntrackEventType>> = {
  '[NEW]': 'new',
  '[UPDATE]': 'update',
  '[DESTROY]': 'destroy',
};

const TIMESTAMP = /^\[(\d+)\.(\d{1,9})\]$/;
const UINT = /^\d+$/;
const STATE = /^[A-Z][A-Z_0-9]*$/;

interface TupleDraft {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  type?: number;
  code?: number;
  icmpId?: number;
  packets?: number;
  bytes?: number;
}

class Bad extends Error {}

export function parseConntrackLine(line: string): ConntrackParse {
  try {
    return { ok: true, event: parse(line.trim().split(/\s+/)) };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, reason: e.message };
    throw e;
  }
}

function num(key: string, v: string): number {
  if (!UINT.test(v)) throw new Bad(`${key}=${v}: not a number`);
  return Number(v);
}

function parse(tokens: string[]): ConntrackEvent {
  let i = 0;
  const ts = TIMESTAMP.exec(tokens[0] ?? '');
  if (!ts)
    throw new Bad(
      `expected a [seconds.micros] timestamp first (use -o timestamp), found ${tokens[0] ?? 'nothing'}`,
    );
  // In integer microseconds first, so the one rounding is the final division.
  const time = (Number(ts[1]) * 1e6 + Number((ts[2] as string).padEnd(6, '0').slice(0, 6))) / 1000;
  i++;
  const type = TYPES[tokens[i] ?? ''];
  if (!type)
    throw new Bad(`expected [NEW], [UPDATE] or [DESTROY], found ${tokens[i] ?? 'nothing'}`);
  const [l3, l3num, l4, l4num] = tokens.slice(i + 1, i + 5);
  if (l3 !== 'ipv4' && l3 !== 'ipv6')
    throw new Bad(`layer 3 ${l3 ?? 'missing'}: expected ipv4 or ipv6`);
  if (l4 === undefined || l4num === undefined || !UINT.test(l4num) || !UINT.test(l3num ?? ''))
    throw new Bad('layer 4 protocol name and number missing (use -o extended)');
  i += 5;
  const icmpish = l4 === 'icmp' || l4 === 'icmpv6';
  const orig: TupleDraft = {};
  const repl: TupleDraft = {};
  let cur: TupleDraft | undefined = orig;
  let timeout: number | undefined;
  let state: string | undefined;
  const flags: string[] = [];
  const meta: Record<string, string> = {};
  for (; i < tokens.length; i++) {
    const t = tokens[i] as string;
    if (t.startsWith('[') && t.endsWith(']')) {
      const inner = t.slice(1, -1);
      if (inner.includes('='))
        meta[inner.slice(0, inner.indexOf('='))] = inner.slice(inner.indexOf('=') + 1);
      else flags.push(inner);
      continue;
    }
    const eq = t.indexOf('=');
    if (eq < 0) {
      if (orig.src !== undefined) throw new Bad(`unexpected ${t} after the tuples began`);
      if (UINT.test(t) && timeout === undefined && state === undefined) timeout = Number(t);
      else if (STATE.test(t) && state === undefined) state = t;
      else throw new Bad(`unexpected ${t}`);
      continue;
    }
    const key = t.slice(0, eq);
    const value = t.slice(eq + 1);
    if (key === 'src' && cur === orig && orig.src !== undefined) cur = repl;
    if (cur && tupleField(cur, key, value, icmpish)) continue;
    // After the reply tuple everything is meta; before it (orig zone…) the tuple goes on.
    if (cur === repl) cur = undefined;
    meta[key] = value;
  }
  return build(type, time, l3, l4, Number(l4num), timeout, state, orig, repl, flags, meta);
}

/** Sets a tuple field; false when `key` is not one (then it is a meta field). */
function tupleField(d: TupleDraft, key: string, v: string, icmpish: boolean): boolean {
  switch (key) {
    case 'src':
    case 'dst':
      if (d[key] !== undefined) return false;
      d[key] = v;
      return true;
    case 'sport':
    case 'dport':
    case 'packets':
    case 'bytes':
    case 'type':
    case 'code':
      if (d[key] !== undefined) return false;
      d[key] = num(key, v);
      return true;
    case 'id':
      // An ICMP tuple's id follows its code; any other id is the conntrack id.
      if (!icmpish || d.code === undefined || d.icmpId !== undefined || d.packets !== undefined)
        return false;
      d.icmpId = num(key, v);
      return true;
    default:
      return false;
  }
}

function tuple(name: string, d: TupleDraft): ConntrackTuple {
  if (d.src === undefined || d.dst === undefined) throw new Bad(`${name} tuple without src/dst`);
  return {
    src: d.src,
    dst: d.dst,
    ...(d.sport !== undefined ? { sport: d.sport } : {}),
    ...(d.dport !== undefined ? { dport: d.dport } : {}),
    ...(d.type !== undefined && d.code !== undefined
      ? {
          icmp: { type: d.type, code: d.code, ...(d.icmpId !== undefined ? { id: d.icmpId } : {}) },
        }
      : {}),
    ...(d.packets !== undefined ? { packets: d.packets } : {}),
    ...(d.bytes !== undefined ? { bytes: d.bytes } : {}),
  };
}

function build(
  type: ConntrackEventType,
  time: number,
  l3: 'ipv4' | 'ipv6',
  protocol: string,
  protocolNumber: number,
  timeout: number | undefined,
  state: string | undefined,
  orig: TupleDraft,
  repl: TupleDraft,
  flags: string[],
  meta: Record<string, string>,
): ConntrackEvent {
  const known = ['mark', 'zone', 'id', 'delta-time'];
  const extra = Object.fromEntries(Object.entries(meta).filter(([k]) => !known.includes(k)));
  const opt = (k: string) => (meta[k] !== undefined ? num(k, meta[k]) : undefined);
  return {
    type,
    time,
    family: l3 === 'ipv4' ? 4 : 6,
    protocol,
    protocolNumber,
    ...(timeout !== undefined ? { timeout } : {}),
    ...(state !== undefined ? { state } : {}),
    original: tuple('original', orig),
    reply: tuple('reply', repl),
    flags,
    ...(opt('mark') !== undefined ? { mark: opt('mark') } : {}),
    ...(opt('zone') !== undefined ? { zone: opt('zone') } : {}),
    ...(opt('id') !== undefined ? { id: opt('id') } : {}),
    ...(opt('delta-time') !== undefined ? { deltaTime: opt('delta-time') } : {}),
    ...(Object.keys(extra).length ? { extra } : {}),
  };
}
