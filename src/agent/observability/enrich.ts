import type {
  DecidedBy,
  Flow,
  FlowAddress,
  FlowCommon,
  FlowProtocol,
} from '../../core/flows/types.js';
import { tcpFlagsOf } from '../../core/flows/types.js';
import type { Direction, Protocol } from '../../core/model/types.js';
import { Evaluator, type Decision, type Flow as TraceFlow } from '../../core/policy/evaluate.js';
import type { Endpoint, PolicyIr } from '../../core/policy/ir.js';
import { parseIp } from '../../core/net/ip.js';
import type { ConntrackEvent } from '../../kernel-readers/conntrack.js';
import type { DropEvent } from '../../kernel-readers/nflog-reader.js';
import {
  endpointTag,
  parseDropLogPrefix,
  type DropReason,
} from '../../components/policy/drop-log.js';
import type { ServiceFrontends } from './frontends.js';
import type { AddressBook } from './resolve.js';

/**
 * Kernel events → flow records. A drop names its endpoint, direction and
 * reason in the log prefix; a connection event names only addresses. Both
 * are resolved against the cluster (AddressBook) and decided by the same
 * evaluator the nft rules were rendered from (the IR of the last sync), so
 * a flow names the policy and rule exactly as `weft policy trace` would.
 */

const PROTOCOL_BY_NAME: Readonly<Record<string, FlowProtocol>> = {
  tcp: 'TCP',
  udp: 'UDP',
  sctp: 'SCTP',
  icmp: 'ICMP',
  icmpv6: 'ICMPv6',
};
const PROTOCOL_BY_NUMBER: Readonly<Record<number, FlowProtocol>> = {
  6: 'TCP',
  17: 'UDP',
  132: 'SCTP',
  1: 'ICMP',
  58: 'ICMPv6',
};

/** Decisions remembered per FlowMaker (cleared when full). */
const DECISION_CACHE = 2048;

export class FlowMaker {
  private readonly evaluator: Evaluator | undefined;
  private readonly byTag = new Map<string, Endpoint>();
  /**
   * The evaluator's answers for this IR, by endpoint, direction, addresses,
   * protocol and port: connections between the same pods to the same port
   * (every new source port) ask the same question.
   */
  private readonly decisions = new Map<string, Decision | undefined>();

  constructor(
    readonly node: string,
    readonly book: AddressBook,
    readonly ir: PolicyIr | undefined,
    /** The Service frontends this node translates (none: a translation names no Service). */
    readonly frontends?: ServiceFrontends,
  ) {
    this.evaluator = ir ? new Evaluator(ir) : undefined;
    for (const e of ir?.endpoints.values() ?? []) this.byTag.set(endpointTag(e.key), e);
  }

  /** A dropped packet; undefined when the prefix is not weft's or the packet was not IP. */
  fromDrop(ev: DropEvent): Flow | undefined {
    const parsed = parseDropLogPrefix(ev.prefix);
    const p = ev.packet;
    if (!parsed || !p) return undefined;
    const protocol = PROTOCOL_BY_NUMBER[p.ipProtocol] ?? 'OTHER';
    const common: FlowCommon = {
      time: ev.time,
      node: this.node,
      direction: parsed.direction,
      source: this.book.endpoint(p.src, p.sport),
      destination: this.book.endpoint(p.dst, p.dport),
      protocol,
      ipProtocol: p.ipProtocol,
      ...(p.tcpFlags !== undefined ? { tcpFlags: tcpFlagsOf(p.tcpFlags) } : {}),
      ...(p.icmpType !== undefined ? { icmp: { type: p.icmpType, code: p.icmpCode ?? 0 } } : {}),
    };
    const endpoint = this.byTag.get(parsed.tag);
    const decidedBy = endpoint
      ? this.dropDecision(
          endpoint,
          parsed.direction,
          parsed.reason,
          p.src,
          p.dst,
          protocol,
          p.dport,
        )
      : ({ kind: 'unknown' } as const);
    return { ...common, event: 'drop', verdict: 'dropped', decidedBy };
  }

  /**
   * A connection that started (NEW) or ended (DESTROY), once per local pod
   * it involves: egress for a local source, ingress for a local destination
   * (both for two pods of this node). Connections of no local pod: none.
   *
   * A connection this node translated (see translationOf) is recorded as it
   * was delivered: its destination is the endpoint the reply comes from,
   * with the Service whose frontend the client addressed, and its source the
   * client, with the address it was masqueraded to. Its verdicts are those
   * of the endpoint and its port, as the forward hook (after DNAT, before
   * masquerade) saw the packets.
   */
  fromConntrack(ev: ConntrackEvent): Flow[] {
    if (ev.type === 'update') return [];
    const o = ev.original;
    const protocol =
      PROTOCOL_BY_NAME[ev.protocol] ?? PROTOCOL_BY_NUMBER[ev.protocolNumber] ?? 'OTHER';
    const nat = translationOf(ev);
    const to = nat.destination ?? { ip: o.dst, port: o.dport };
    const directions: Direction[] = [];
    const srcPod = this.book.localPod(o.src);
    const dstPod = this.book.localPod(to.ip);
    if (srcPod !== undefined) directions.push('egress');
    if (dstPod !== undefined) directions.push('ingress');
    if (directions.length === 0) return [];
    const base = {
      time: ev.time,
      node: this.node,
      source: this.book.endpoint(o.src, o.sport),
      destination: this.book.endpoint(to.ip, to.port),
      protocol,
      ipProtocol: ev.protocolNumber,
      ...(o.icmp ? { icmp: { type: o.icmp.type, code: o.icmp.code } } : {}),
      ...this.throughService(protocol, nat),
      ...(nat.masqueraded ? { masqueraded: nat.masqueraded } : {}),
    };
    return directions.map((direction): Flow => {
      const key = direction === 'egress' ? srcPod : dstPod;
      const decidedBy = this.allowDecision(key, direction, o.src, to.ip, protocol, to.port);
      if (ev.type === 'new')
        return { ...base, direction, event: 'start', verdict: 'forwarded', decidedBy };
      const counters = {
        original: { packets: o.packets ?? 0, bytes: o.bytes ?? 0 },
        reply: { packets: ev.reply.packets ?? 0, bytes: ev.reply.bytes ?? 0 },
      };
      return { ...base, direction, event: 'end', verdict: 'forwarded', counters, decidedBy };
    });
  }

  /** The Service whose frontend a translated connection addressed; else what it addressed. */
  private throughService(
    protocol: FlowProtocol,
    nat: Translation,
  ): Pick<FlowCommon, 'service' | 'translatedFrom'> {
    const addressed = nat.destination ? nat.addressed : undefined;
    if (!addressed) return {};
    const service = this.frontends?.lookup(protocol, addressed.ip, addressed.port);
    return service ? { service } : { translatedFrom: addressed };
  }

  private decide(
    endpoint: Endpoint,
    direction: Direction,
    src: string,
    dst: string,
    protocol: FlowProtocol,
    port: number | undefined,
  ): Decision | undefined {
    if (!this.evaluator) return undefined;
    const key = `${endpoint.key} ${direction} ${src} ${dst} ${protocol} ${port ?? ''}`;
    if (this.decisions.has(key)) return this.decisions.get(key);
    const s = parseIp(src);
    const d = parseIp(dst);
    // ICMP and other protocols match no port rule, as in nft (`th dport` needs a port).
    const decision =
      s && d
        ? this.evaluator.decide(endpoint, direction, direction === 'egress' ? d : s, {
            src: s,
            dst: d,
            protocol: protocol as Protocol,
            port: port ?? 0,
          } satisfies TraceFlow)
        : undefined;
    if (this.decisions.size >= DECISION_CACHE) this.decisions.clear();
    this.decisions.set(key, decision);
    return decision;
  }

  private dropDecision(
    endpoint: Endpoint,
    direction: Direction,
    reason: DropReason,
    src: string,
    dst: string,
    protocol: FlowProtocol,
    port: number | undefined,
  ): DecidedBy {
    const d = this.decide(endpoint, direction, src, dst, protocol, port);
    if (reason === 'isolated') {
      if (d?.stage === 'networkpolicy' && !d.allowed && d.isolatedBy)
        return { kind: 'isolation', isolatedBy: d.isolatedBy };
      const ir = this.ir as PolicyIr;
      const refs = endpoint[direction].networkPolicies.flatMap((id) => {
        const p = ir.policies.get(id);
        return p ? [p.ref] : [];
      });
      return refs.length ? { kind: 'isolation', isolatedBy: refs } : { kind: 'unknown' };
    }
    const stage = reason === 'admin' ? 'admin' : 'baseline';
    if (d && d.stage === stage && !d.allowed && d.rule) return { kind: 'rule', rule: d.rule };
    return { kind: 'unknown' };
  }

  private allowDecision(
    key: string | undefined,
    direction: Direction,
    src: string,
    dst: string,
    protocol: FlowProtocol,
    port: number | undefined,
  ): DecidedBy {
    const endpoint = key === undefined ? undefined : this.ir?.endpoints.get(key);
    // A local pod the IR does not hold has no policy in this direction.
    if (!endpoint) return this.ir ? { kind: 'default' } : { kind: 'unknown' };
    const d = this.decide(endpoint, direction, src, dst, protocol, port);
    if (!d) return { kind: 'unknown' };
    return allowedBy(d);
  }
}

/** What let a connection through, from the evaluator's decision. */
export function allowedBy(d: Decision): DecidedBy {
  if (!d.allowed) return { kind: 'unknown' };
  switch (d.stage) {
    case 'admin':
    case 'baseline':
      return d.rule ? { kind: 'rule', rule: d.rule } : { kind: 'unknown' };
    case 'networkpolicy': {
      const first = d.allowedBy?.[0];
      return first ? { kind: 'rule', rule: first } : { kind: 'unknown' };
    }
    case 'hairpin':
    case 'node':
    case 'default':
      return { kind: 'default' };
  }
}

/**
 * What NAT did to a connection, from its conntrack tuples: the reply comes
 * from where the original packets were delivered and goes back to where
 * they seemed to come from. A reply source other than the original
 * destination is a destination translation (DNAT: a Service frontend to an
 * endpoint); a reply destination other than the original source is a
 * source translation (masquerade, SNAT).
 */
export interface Translation {
  /** What the client addressed (the original destination). */
  readonly addressed: FlowAddress;
  /** Where the connection was delivered, when it was translated. */
  readonly destination?: FlowAddress;
  /** The source the destination saw, when it was rewritten. */
  readonly masqueraded?: FlowAddress;
}

export function translationOf(ev: ConntrackEvent): Translation {
  const o = ev.original;
  const r = ev.reply;
  const at = (ip: string, port: number | undefined): FlowAddress =>
    port === undefined ? { ip } : { ip, port };
  const dnat = !sameAddress(r.src, o.dst) || r.sport !== o.dport;
  const snat = !sameAddress(r.dst, o.src) || r.dport !== o.sport;
  return {
    addressed: at(o.dst, o.dport),
    ...(dnat ? { destination: at(r.src, r.sport) } : {}),
    ...(snat ? { masqueraded: at(r.dst, r.dport) } : {}),
  };
}

/** Two text addresses of one IP (IPv6 may be written in more than one way). */
function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== undefined && y !== undefined && x.family === y.family && x.value === y.value;
}
