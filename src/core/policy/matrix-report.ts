import { ErrorCodes, WeftError } from '../errors.js';
import { PROTOCOLS, podKey, type Cluster, type Protocol } from '../model/types.js';
import { Evaluator } from './evaluate.js';
import { computeMatrix, type MatrixPod, type Probe } from './matrix.js';
import type { PolicyIr } from './ir.js';

/** `80/TCP`, `53/udp`, or `80` (TCP). */
export function parseProbe(text: string): Probe {
  const m = /^(\d{1,5})(?:\/([A-Za-z]+))?$/.exec(text.trim());
  const port = m ? Number(m[1]) : NaN;
  const protocol = (m?.[2] ?? 'TCP').toUpperCase();
  if (!m || port < 1 || port > 65535 || !(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw WeftError.of({
      code: ErrorCodes.USAGE,
      object: '--port',
      field: '',
      message: `${JSON.stringify(text)} is not a port`,
      fix: 'write PORT/PROTOCOL with PORT 1-65535 and PROTOCOL TCP, UDP or SCTP, e.g. 80/TCP',
    });
  }
  return { port, protocol: protocol as Protocol };
}

/** Every (port, protocol) any pod declares, sorted; what `matrix` probes without --port. */
export function declaredProbes(cluster: Cluster): Probe[] {
  const seen = new Map<string, Probe>();
  for (const pod of cluster.pods) {
    for (const p of pod.ports)
      seen.set(`${p.protocol}/${p.port}`, { port: p.port, protocol: p.protocol });
  }
  return [...seen.values()].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

export interface Matrix {
  /** Row keys (`ns/pod`, connecting side) and column keys (`ns/pod`, accepting side). */
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly probes: readonly {
    readonly probe: Probe;
    readonly allowed: (from: number, to: number) => boolean;
    /** A one-letter mark for a cell when `.`/`X` says too little (the lab marks closed ports). */
    readonly mark?: (from: number, to: number) => string | undefined;
  }[];
}

/** The verdict for every pod pair of a cluster whose pods all have addresses. */
export function policyMatrix(cluster: Cluster, ir: PolicyIr, probes: readonly Probe[]): Matrix {
  const pods: MatrixPod[] = cluster.pods.map((p) => {
    const ip = p.ips[0];
    if (!ip) throw new Error(`pod ${podKey(p)} has no address`);
    return { key: podKey(p), ip };
  });
  const results = computeMatrix(new Evaluator(ir), pods, probes);
  const keys = pods.map((p) => p.key);
  return { from: keys, to: keys, probes: results };
}

/**
 * The public JSON contract, `{"probes":[{"port","protocol","matrix":{from:{to:bool}}}]}`,
 * in chunks of one row each so that a million pairs never sit in one string.
 */
export function* matrixJsonChunks(m: Matrix): Generator<string> {
  const rowNames = m.from.map((p) => JSON.stringify(p));
  const names = m.to.map((p) => JSON.stringify(p));
  const yes = names.map((n) => `${n}:true`);
  const no = names.map((n) => `${n}:false`);
  const cells: string[] = new Array<string>(names.length);
  yield '{"probes":[';
  for (const [k, { probe, allowed }] of m.probes.entries()) {
    yield `${k > 0 ? ',' : ''}{"port":${probe.port},"protocol":${JSON.stringify(probe.protocol)},"matrix":{`;
    for (let i = 0; i < rowNames.length; i++) {
      for (let j = 0; j < names.length; j++) cells[j] = (allowed(i, j) ? yes[j] : no[j]) as string;
      yield `${i > 0 ? ',' : ''}${rowNames[i]}:{${cells.join(',')}}`;
    }
    yield '}}';
  }
  yield ']}';
}

export function matrixJson(m: Matrix): string {
  return [...matrixJsonChunks(m)].join('');
}
