import { ErrorCodes, type Issue } from '../errors.js';
import type { Service } from '../model/service-types.js';
import { describeObject } from '../model/types.js';
import type { ServiceRanges } from './ranges.js';

type PortRange = ServiceRanges['nodePorts'];

/**
 * The node ports written in `s`, with where: ports of the same number (TCP
 * and UDP) may share one, which then counts once.
 */
function writtenNodePorts(s: Service): { port: number; field: string }[] {
  const out: { port: number; field: string }[] = [];
  const shared = new Map<number, number>();
  for (const [i, p] of s.ports.entries()) {
    if (p.nodePort === undefined || shared.get(p.nodePort) === p.port) continue;
    if (!shared.has(p.nodePort)) shared.set(p.nodePort, p.port);
    out.push({ port: p.nodePort, field: `spec.ports[${i}].nodePort` });
  }
  if (s.healthCheckNodePort !== undefined)
    out.push({ port: s.healthCheckNodePort, field: 'spec.healthCheckNodePort' });
  return out;
}

/**
 * Claims every node port written in the Services (in their order): one out
 * of the range, or already another Service's (or, for a
 * healthCheckNodePort, one of the Service's own node ports), is an issue
 * naming both, and its Service is refused.
 */
export function claimNodePorts(
  services: readonly Service[],
  range: PortRange,
): { taken: Set<number>; refused: Set<Service>; issues: Issue[] } {
  const owners = new Map<number, Service>();
  const refused = new Set<Service>();
  const issues: Issue[] = [];
  const text = rangeText(range);
  for (const s of services) {
    for (const { port, field } of writtenNodePorts(s)) {
      const fail = (message: string, fix: string) => {
        issues.push({ code: ErrorCodes.ADDRESS, object: describeObject(s), field, message, fix });
        refused.add(s);
      };
      const other = owners.get(port);
      if (port < range.first || port > range.last) {
        fail(
          `${port} is not in the node port range ${text}`,
          `write a port of ${text}, or drop ${field} to have one assigned`,
        );
      } else if (other === s) {
        fail(`${port} is also a node port of this Service`, 'give the health check its own port');
      } else if (other) {
        fail(
          `${port} is also a node port of ${describeObject(other)}`,
          `give every Service its own node ports, or drop ${field} to have one assigned`,
        );
      } else owners.set(port, s);
    }
  }
  return { taken: new Set(owners.keys()), refused, issues };
}

function rangeText(range: PortRange): string {
  return `${range.first}-${range.last}`;
}

/** The free node ports of the range, lowest first. */
export class NodePortPool {
  private cursor: number;
  readonly rangeText: string;

  constructor(
    private readonly range: PortRange,
    private readonly taken: Set<number>,
  ) {
    this.cursor = range.first;
    this.rangeText = rangeText(range);
  }

  next(): number | undefined {
    while (this.cursor <= this.range.last) {
      const port = this.cursor++;
      if (this.taken.has(port)) continue;
      this.taken.add(port);
      return port;
    }
    return undefined;
  }
}
