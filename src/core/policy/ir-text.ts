import { formatCidr } from '../net/cidr.js';
import { formatIp } from '../net/ip.js';
import type { EndpointDirection, IrPeer, IrPorts, IrSet, PolicyIr } from './ir.js';
import { policyRefText, ruleOriginText } from './ir.js';

/**
 * The IR as stable, readable text: what golden files hold and what
 * `weft policy ir` prints. Sorted, so equal IRs print equal text.
 */
export function formatIr(ir: PolicyIr): string {
  const out: string[] = [];
  for (const e of [...ir.endpoints.values()].sort((a, b) => a.key.localeCompare(b.key))) {
    const node = e.node ? ` node ${e.node}` : '';
    out.push(`endpoint ${e.key} [${e.ips.map(formatIp).join(', ')}]${node}`);
    out.push(`  ingress: ${direction(e.ingress)}`);
    out.push(`  egress:  ${direction(e.egress)}`);
  }
  for (const p of [...ir.policies.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    out.push(`policy ${p.id}  (${policyRefText(p.ref)})`);
    if (p.rules.length === 0) out.push('  (no rules: nothing is allowed)');
    for (const r of p.rules) {
      out.push(
        `  ${r.action.padEnd(6)} ${peer(r.peer, p.direction)} ${ports(r.ports)}  # ${ruleOriginText(r.origin)}`,
      );
    }
  }
  for (const s of [...ir.sets.values()].sort((a, b) => a.id.localeCompare(b.id))) out.push(set(s));
  return `${out.join('\n')}\n`;
}

function direction(d: EndpointDirection): string {
  const parts: string[] = [];
  if (d.admin.length) parts.push(`admin ${d.admin.join(', ')}`);
  parts.push(
    d.networkPolicies.length ? `isolated by ${d.networkPolicies.join(', ')}` : 'not isolated',
  );
  if (d.baseline.length) parts.push(`baseline ${d.baseline.join(', ')}`);
  return parts.join('; ');
}

function peer(p: IrPeer, dir: 'ingress' | 'egress'): string {
  const word = dir === 'ingress' ? 'from' : 'to';
  return p.kind === 'any' ? `${word} any` : `${word} @${p.set}`;
}

function ports(p: IrPorts): string {
  if (p.kind === 'any') return 'ports any';
  const list = p.ports.map((x) => {
    switch (x.kind) {
      case 'protocol':
        return `${x.protocol}/*`;
      case 'range':
        return x.from === x.to ? `${x.protocol}/${x.from}` : `${x.protocol}/${x.from}-${x.to}`;
      case 'named':
        return `${x.name}@${x.set}`;
    }
  });
  return `ports ${list.join(' ')}`;
}

function set(s: IrSet): string {
  if (s.kind === 'addresses') {
    const members = s.cidrs.map(formatCidr).join(', ') || '(empty)';
    return `set @${s.id} = {${members}}`;
  }
  const members =
    s.entries.map((e) => `${formatIp(e.ip)} . ${e.protocol} . ${e.port}`).join(', ') || '(empty)';
  return `set @${s.id} (port ${s.name}) = {${members}}`;
}
