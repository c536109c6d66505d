import { describeObject, DIRECTIONS, type Direction, type NetworkPolicy } from '../model/types.js';
import { cidrContainsCidr, formatCidr, subtractCidrs } from '../net/cidr.js';
import { activeRules, peersField } from './context.js';
import { LintCodes, type Finding } from './finding.js';

/** ipBlock peers whose `except` entries remove the whole `cidr`: the peer matches nothing. */
export function checkIpBlocks(networkPolicies: readonly NetworkPolicy[]): Finding[] {
  const findings: Finding[] = [];
  for (const np of networkPolicies) {
    for (const direction of DIRECTIONS) {
      activeRules(np, direction).forEach((rule, i) => {
        if (rule.peers.kind === 'all') return;
        rule.peers.peers.forEach((peer, j) => {
          if (peer.kind !== 'ipBlock' || subtractCidrs(peer.cidr, peer.except).length > 0) return;
          const field = `spec.${direction}[${i}].${peersField(direction)}[${j}].ipBlock.except`;
          const k = peer.except.findIndex((e) => cidrContainsCidr(e, peer.cidr));
          const except = peer.except[k];
          const what = except
            ? `except ${formatCidr(except)} covers`
            : 'the except entries together cover';
          findings.push({
            severity: 'warning',
            code: LintCodes.EXCEPT_COVERS_CIDR,
            object: describeObject(np),
            field: except ? `${field}[${k}]` : field,
            message: `${what} the whole cidr ${formatCidr(peer.cidr)}: this peer matches nothing`,
            fix: 'except only addresses inside the cidr that must stay out, or remove the peer',
          });
        });
      });
    }
  }
  return findings;
}

const TYPE_NAME: Record<Direction, string> = { ingress: 'Ingress', egress: 'Egress' };

/** Rules written for a direction that `policyTypes` leaves out: they are ignored. */
export function checkIgnoredRules(networkPolicies: readonly NetworkPolicy[]): Finding[] {
  const findings: Finding[] = [];
  for (const np of networkPolicies) {
    for (const direction of DIRECTIONS) {
      const rules = np[direction];
      if (rules.length === 0 || np.policyTypes.includes(direction)) continue;
      const types = np.policyTypes.map((t) => TYPE_NAME[t]).join(', ');
      const count =
        rules.length === 1
          ? `its ${direction} rule is`
          : `its ${rules.length} ${direction} rules are`;
      findings.push({
        severity: 'warning',
        code: LintCodes.IGNORED_RULES,
        object: describeObject(np),
        field: `spec.${direction}`,
        message: `spec.policyTypes is [${types}], without ${TYPE_NAME[direction]}: ${count} ignored`,
        fix: `add ${TYPE_NAME[direction]} to spec.policyTypes to enforce ${rules.length === 1 ? 'it' : 'them'}, or remove spec.${direction}`,
      });
    }
  }
  return findings;
}
