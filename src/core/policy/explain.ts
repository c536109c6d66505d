import { formatIp } from '../net/ip.js';
import type { Decision, NotApplicable, TraceResult } from './evaluate.js';
import { policyRefText, ruleOriginText } from './ir.js';

/** One sentence saying why a side of a flow was allowed or dropped. */
export function explainDecision(d: Decision | NotApplicable): string {
  if (d.stage === 'none') return d.why;
  const passed = d.passedBy ? ` after ${ruleOriginText(d.passedBy)} passed it on` : '';
  switch (d.stage) {
    case 'hairpin':
      return 'a pod may always reach itself on its own address';
    case 'node': {
      const isolated = (d.isolatedBy ?? []).map(policyRefText).join(', ');
      return `${d.endpoint} is isolated for ${d.direction} by ${isolated}, but NetworkPolicy always allows its own node${passed}`;
    }
    case 'admin':
    case 'baseline': {
      const rule = d.rule ? ruleOriginText(d.rule) : 'a rule';
      return `${d.allowed ? 'accepted' : 'denied'} by ${rule}`;
    }
    case 'networkpolicy': {
      const isolated = (d.isolatedBy ?? []).map(policyRefText).join(', ');
      if (d.allowed) {
        const by = (d.allowedBy ?? []).map(ruleOriginText).join('; ');
        return `allowed by ${by}${passed}`;
      }
      return `${d.endpoint} is isolated for ${d.direction} by ${isolated}, and no rule allows this flow${passed}`;
    }
    case 'default': {
      if (d.rule) return `passed on by ${ruleOriginText(d.rule)}; nothing else applies, so allowed`;
      return `no policy isolates ${d.endpoint} for ${d.direction}${passed}`;
    }
  }
}

export function flowText(t: TraceResult): string {
  return `${t.flow.protocol} ${formatIp(t.flow.src)} -> ${formatIp(t.flow.dst)}:${t.flow.port}`;
}
