import {
  describeObject,
  DIRECTIONS,
  type CnpPeer,
  type Pod,
  type PortSpec,
  type PortsSpec,
} from '../model/types.js';
import { activeRules, podsText, type LintContext } from './context.js';
import { LintCodes, type Finding } from './finding.js';
import { closest } from '../text.js';

type NamedPort = PortSpec & { kind: 'named' };

function declares(pod: Pod, port: NamedPort): boolean {
  return pod.ports.some(
    (cp) => cp.name === port.name && (port.protocol === 'any' || cp.protocol === port.protocol),
  );
}

function isAddressPeer(p: CnpPeer): boolean {
  return p.kind === 'nodes' || p.kind === 'networks';
}

function unique(pods: readonly Pod[]): Pod[] {
  return [...new Set(pods)];
}

/** One rule's ports, the pods its named ports resolve against, and where it is written. */
interface PortSite {
  readonly object: string;
  readonly field: string;
  readonly ports: PortsSpec;
  readonly destinations: readonly Pod[];
}

function npSites(ctx: LintContext): PortSite[] {
  const sites: PortSite[] = [];
  for (const np of ctx.cluster.networkPolicies) {
    const object = describeObject(np);
    for (const direction of DIRECTIONS) {
      activeRules(np, direction).forEach((rule, i) => {
        let destinations: readonly Pod[];
        if (direction === 'ingress') destinations = ctx.npSubject(np);
        else if (rule.peers.kind === 'all') destinations = ctx.pods;
        else {
          // An ipBlock peer reaches the pods inside it (its except ignored, to be safe).
          const pods = rule.peers.peers.flatMap((p) =>
            p.kind === 'ipBlock' ? ctx.selection.podsInCidrs([p.cidr]) : ctx.npPeerPods(np, p),
          );
          destinations = unique(pods);
        }
        sites.push({
          object,
          field: `spec.${direction}[${i}].ports`,
          ports: rule.ports,
          destinations,
        });
      });
    }
  }
  return sites;
}

function cnpSites(ctx: LintContext): PortSite[] {
  const sites: PortSite[] = [];
  for (const cnp of ctx.cluster.clusterNetworkPolicies) {
    const object = describeObject(cnp);
    const subject = ctx.cnpSubject(cnp.subject);
    for (const direction of DIRECTIONS) {
      cnp[direction].forEach((rule, i) => {
        // Named ports never combine with nodes or networks peers: the parser rejects that.
        if (direction === 'egress' && rule.peers.some(isAddressPeer)) return;
        const destinations: readonly Pod[] =
          direction === 'ingress' ? subject : unique(rule.peers.flatMap((p) => ctx.cnpPeerPods(p)));
        sites.push({
          object,
          field: `spec.${direction}[${i}].protocols`,
          ports: rule.ports,
          destinations,
        });
      });
    }
  }
  return sites;
}

/** Named ports that none of the rule's destination pods declares: the port never matches. */
export function checkNamedPorts(ctx: LintContext): Finding[] {
  const findings: Finding[] = [];
  for (const site of [...npSites(ctx), ...cnpSites(ctx)]) {
    // No destination pod at all is reported by the selection checks.
    if (site.ports.kind === 'all' || site.destinations.length === 0) continue;
    site.ports.ports.forEach((port, k) => {
      if (port.kind !== 'named' || site.destinations.some((p) => declares(p, port))) return;
      findings.push(namedPortFinding(site, port, k));
    });
  }
  return findings;
}

function namedPortFinding(site: PortSite, port: NamedPort, index: number): Finding {
  const names = new Set(
    site.destinations.flatMap((p) => p.ports.flatMap((cp) => (cp.name ? [cp.name] : []))),
  );
  const other = site.destinations.flatMap((p) => p.ports).find((cp) => cp.name === port.name);
  const proto = port.protocol === 'any' ? '' : ` (${port.protocol})`;
  let hint = '';
  let fix = `declare a container port named "${port.name}" on the destination pods, or use the port number`;
  if (other) {
    hint = `; they declare it for ${other.protocol} only`;
    fix = `set the protocol to ${other.protocol}, or declare "${port.name}" for ${port.protocol} on the destination pods`;
  } else {
    const near = closest(port.name, names);
    if (near) {
      hint = ` (did you mean "${near}"?)`;
      fix = `change the port name "${port.name}" to "${near}"`;
    }
  }
  return {
    severity: 'warning',
    code: LintCodes.UNKNOWN_NAMED_PORT,
    object: site.object,
    field: `${site.field}[${index}]`,
    message: `named port "${port.name}"${proto} is declared by none of the destination pods (${podsText(site.destinations)})${hint}: this port never matches`,
    fix,
  };
}
