import { ipKey } from '../net/ip.js';
import type { IpAddr } from '../net/types.js';
import type { Direction, Protocol } from '../model/types.js';
import { Bitset } from './bitset.js';
import type { Endpoint, IrPort, IrRule, SetId } from './ir.js';
import type { Evaluator } from './evaluate.js';

export interface Probe {
  readonly port: number;
  readonly protocol: Protocol;
}

/** A pod as the matrix sees it: one address (its first), probed from and to. */
export interface MatrixPod {
  readonly key: string;
  readonly ip: IpAddr;
}

/** `allowed(i, j)`: may pod i open a connection to pod j on this probe's port? */
export interface ProbeResult {
  readonly probe: Probe;
  readonly allowed: (from: number, to: number) => boolean;
}

/**
 * Every (from, to) verdict for every probe. This is the evaluator's decision
 * procedure (Evaluator.decide) run for all peers of an endpoint at once, on
 * bitsets, so 1,000 pods cost a million bit tests, not a million traces. A
 * property test holds it equal to Evaluator.trace for every pair.
 */
export function computeMatrix(
  ev: Evaluator,
  pods: readonly MatrixPod[],
  probes: readonly Probe[],
): ProbeResult[] {
  return new MatrixComputer(ev, pods).run(probes);
}

class MatrixComputer {
  private readonly n: number;
  private readonly peerBits = new Map<SetId, Bitset>();
  private readonly namedBits = new Map<string, Bitset>();
  private readonly all: Bitset;
  private readonly endpoints: (Endpoint | undefined)[];
  /** Pod indices by address. */
  private readonly byIp = new Map<string, number[]>();
  /** Pods at a list of addresses, by the list. */
  private readonly bitsAt = new Map<string, Bitset>();

  constructor(
    private readonly ev: Evaluator,
    private readonly pods: readonly MatrixPod[],
  ) {
    this.n = pods.length;
    this.all = Bitset.full(this.n);
    pods.forEach((p, j) => {
      const key = ipKey(p.ip);
      const list = this.byIp.get(key);
      if (list) list.push(j);
      else this.byIp.set(key, [j]);
    });
    this.endpoints = pods.map((p) => {
      const e = ev.endpointAt(p.ip);
      return e && e.key === p.key ? e : undefined;
    });
  }

  run(probes: readonly Probe[]): ProbeResult[] {
    return probes.map((probe) => {
      const egress = this.endpoints.map((e, i) =>
        e ? this.vector(e, i, 'egress', probe) : this.all,
      );
      const ingress = this.endpoints.map((e, i) =>
        e ? this.vector(e, i, 'ingress', probe) : this.all,
      );
      return {
        probe,
        allowed: (from: number, to: number) =>
          (egress[from] as Bitset).has(to) && (ingress[to] as Bitset).has(from),
      };
    });
  }

  /** Bit j: does endpoint (pod `self`) allow, in `direction`, the flow with pod j as its peer? */
  private vector(e: Endpoint, self: number, direction: Direction, probe: Probe): Bitset {
    const undecided = this.all.clone();
    const allowed = new Bitset(this.n);
    const hairpin = this.at([(this.pods[self] as MatrixPod).ip]);
    allowed.or(hairpin);
    undecided.andNot(hairpin);
    const d = e[direction];
    const passed = new Bitset(this.n);
    for (const id of d.admin) {
      for (const rule of this.rules(id)) {
        const m = this.match(rule, self, direction, probe).and(undecided);
        if (rule.action === 'accept') allowed.or(m);
        else if (rule.action === 'pass') passed.or(m);
        undecided.andNot(m);
      }
    }
    undecided.or(passed);
    if (d.networkPolicies.length > 0) {
      // NetworkPolicy always allows the own node; an Admin rule may have decided first.
      const npAllow = this.at(e.nodeAddresses).clone();
      for (const id of d.networkPolicies) {
        for (const rule of this.rules(id)) npAllow.or(this.match(rule, self, direction, probe));
      }
      return allowed.or(npAllow.and(undecided));
    }
    for (const id of d.baseline) {
      for (const rule of this.rules(id)) {
        const m = this.match(rule, self, direction, probe).and(undecided);
        if (rule.action !== 'deny') allowed.or(m);
        undecided.andNot(m);
      }
    }
    return allowed.or(undecided);
  }

  /** The pods at one of `ips` (shared: clone before changing). */
  private at(ips: readonly IpAddr[]): Bitset {
    const key = ips.map(ipKey).join(',');
    let b = this.bitsAt.get(key);
    if (!b) {
      b = new Bitset(this.n);
      for (const ip of ips) for (const j of this.byIp.get(ipKey(ip)) ?? []) b.set(j);
      this.bitsAt.set(key, b);
    }
    return b;
  }

  private rules(id: string): readonly IrRule[] {
    const p = this.ev.ir.policies.get(id);
    if (!p) throw new Error(`IR names missing policy ${id}`);
    return p.rules;
  }

  /** A fresh bitset of the peers `rule` matches. */
  private match(rule: IrRule, self: number, direction: Direction, probe: Probe): Bitset {
    const peers =
      rule.peer.kind === 'any' ? this.all.clone() : this.addressBits(rule.peer.set).clone();
    if (rule.ports.kind === 'any') return peers;
    const plain = rule.ports.ports.some((p) => plainMatch(p, probe));
    if (plain) return peers;
    const named = rule.ports.ports.filter(
      (p): p is Extract<IrPort, { kind: 'named' }> => p.kind === 'named',
    );
    if (direction === 'ingress') {
      // The destination is the endpoint itself.
      const ip = (this.pods[self] as MatrixPod).ip;
      const hit = named.some((p) => this.ev.sets.hasPort(p.set, ip, probe.protocol, probe.port));
      return hit ? peers : new Bitset(this.n);
    }
    const dest = new Bitset(this.n);
    for (const p of named) dest.or(this.portBits(p.set, probe));
    return peers.and(dest);
  }

  /** Pods j with (ip_j, probe) in the named-port set; cached per set and probe. */
  private portBits(set: SetId, probe: Probe): Bitset {
    const key = `${set}|${probe.protocol}|${probe.port}`;
    let b = this.namedBits.get(key);
    if (!b) {
      const bits = new Bitset(this.n);
      this.pods.forEach((pod, j) => {
        if (this.ev.sets.hasPort(set, pod.ip, probe.protocol, probe.port)) bits.set(j);
      });
      this.namedBits.set(key, bits);
      b = bits;
    }
    return b;
  }

  private addressBits(set: SetId): Bitset {
    let b = this.peerBits.get(set);
    if (!b) {
      const bits = new Bitset(this.n);
      this.pods.forEach((p, j) => {
        if (this.ev.sets.hasAddress(set, p.ip)) bits.set(j);
      });
      this.peerBits.set(set, bits);
      b = bits;
    }
    return b;
  }
}

function plainMatch(p: IrPort, probe: Probe): boolean {
  switch (p.kind) {
    case 'protocol':
      return p.protocol === probe.protocol;
    case 'range':
      return p.protocol === probe.protocol && probe.port >= p.from && probe.port <= p.to;
    case 'named':
      return false;
  }
}
