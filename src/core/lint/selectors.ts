import { formatSelector, type LabelSelector, type Requirement } from '../labels.js';
import {
  describeObject,
  DIRECTIONS,
  type ClusterNetworkPolicy,
  type CnpPeer,
  type CnpSubject,
  type NetworkPolicy,
  type NetworkPolicyPeer,
} from '../model/types.js';
import { LintCodes, type Finding } from './finding.js';
import {
  activeRules,
  NAMESPACE_NAME_LABEL,
  peersField,
  type LabelIndex,
  type LintContext,
} from './context.js';
import { closest, listText } from '../text.js';

type Population = 'pod' | 'namespace' | 'node';

/** One selector written somewhere in a policy, and the kind of object it selects. */
interface SelectorSite {
  readonly object: string;
  readonly field: string;
  readonly selector: LabelSelector;
  readonly population: Population;
}

type Part = readonly [suffix: string, selector: LabelSelector, population: Population];

/** The selectors inside a ClusterNetworkPolicy subject or peer, by field suffix. */
function cnpParts(p: CnpSubject | CnpPeer): Part[] {
  switch (p.kind) {
    case 'namespaces':
      return [['namespaces', p.selector, 'namespace']];
    case 'nodes':
      return [['nodes', p.selector, 'node']];
    case 'pods':
      return [
        ['pods.namespaceSelector', p.namespaceSelector, 'namespace'],
        ['pods.podSelector', p.podSelector, 'pod'],
      ];
    case 'networks':
      return [];
  }
}

/** The selectors inside a NetworkPolicy peer, by field suffix. */
function npParts(p: NetworkPolicyPeer): Part[] {
  if (p.kind === 'ipBlock') return [];
  const parts: Part[] = [['podSelector', p.pods, 'pod']];
  if (p.namespaces.kind === 'selector') {
    parts.push(['namespaceSelector', p.namespaces.selector, 'namespace']);
  }
  return parts;
}

function npSites(np: NetworkPolicy): SelectorSite[] {
  const object = describeObject(np);
  const sites: SelectorSite[] = [
    { object, field: 'spec.podSelector', selector: np.podSelector, population: 'pod' },
  ];
  for (const direction of DIRECTIONS) {
    activeRules(np, direction).forEach((rule, i) => {
      if (rule.peers.kind === 'all') return;
      rule.peers.peers.forEach((peer, j) => {
        const field = `spec.${direction}[${i}].${peersField(direction)}[${j}]`;
        for (const [suffix, selector, population] of npParts(peer)) {
          sites.push({ object, field: `${field}.${suffix}`, selector, population });
        }
      });
    });
  }
  return sites;
}

function cnpSites(cnp: ClusterNetworkPolicy): SelectorSite[] {
  const object = describeObject(cnp);
  const sites = cnpParts(cnp.subject).map(([suffix, selector, population]) => ({
    object,
    field: `spec.subject.${suffix}`,
    selector,
    population,
  }));
  for (const direction of DIRECTIONS) {
    cnp[direction].forEach((rule, i) => {
      rule.peers.forEach((peer, j) => {
        const field = `spec.${direction}[${i}].${peersField(direction)}[${j}]`;
        for (const [suffix, selector, population] of cnpParts(peer)) {
          sites.push({ object, field: `${field}.${suffix}`, selector, population });
        }
      });
    });
  }
  return sites;
}

/** Label keys and values that no object of the selected kind carries: most likely typos. */
export function checkSelectorLabels(ctx: LintContext): Finding[] {
  const sites = [
    ...ctx.cluster.networkPolicies.flatMap(npSites),
    ...ctx.cluster.clusterNetworkPolicies.flatMap(cnpSites),
  ];
  const findings: Finding[] = [];
  for (const site of sites) {
    const index = labelIndex(ctx, site.population);
    for (const r of site.selector.requirements) {
      // Without any object of that kind there is nothing to compare with; an
      // inferred namespace has no labels weft could know but its name.
      if (index.size === 0) continue;
      if (
        site.population === 'namespace' &&
        !ctx.namespaceLabelsKnown &&
        r.key !== NAMESPACE_NAME_LABEL
      )
        continue;
      const f = checkRequirement(site, r, index);
      if (f) findings.push(f);
    }
  }
  return findings;
}

function labelIndex(ctx: LintContext, population: Population): LabelIndex {
  if (population === 'pod') return ctx.podLabels;
  return population === 'namespace' ? ctx.namespaceLabels : ctx.nodeLabels;
}

function checkRequirement(
  site: SelectorSite,
  r: Requirement,
  index: LabelIndex,
): Finding | undefined {
  const noun = site.population;
  const values = index.get(r.key);
  const base = { severity: 'warning', object: site.object, field: site.field } as const;
  // Name the whole selector only when the requirement is not all of it.
  const within =
    site.selector.requirements.length > 1 ? ` (in selector ${formatSelector(site.selector)})` : '';
  if (!values) {
    const near = closest(r.key, index.keys());
    const effect =
      r.operator === 'In' || r.operator === 'Exists'
        ? `so the selector selects no ${noun}`
        : 'so this requirement has no effect';
    const hint = near ? ` (did you mean "${near}"?)` : '';
    return {
      ...base,
      code: LintCodes.UNKNOWN_LABEL_KEY,
      message: `no ${noun} carries label key "${r.key}"${within}, ${effect}${hint}`,
      fix: near
        ? `change the key "${r.key}" to "${near}"`
        : `correct the key, or label the intended ${noun}s with "${r.key}"`,
    };
  }
  if (r.operator !== 'In' || r.values.some((v) => values.has(v))) return undefined;
  const wanted = r.values.map((v) => `${r.key}=${v}`).join(' or ');
  const inUse = [...values].sort();
  const near = r.values.map((v) => closest(v, inUse)).find((v) => v !== undefined);
  const hint = near ? ` (did you mean "${near}"?)` : '';
  return {
    ...base,
    code: LintCodes.UNKNOWN_LABEL_VALUE,
    message: `no ${noun} has label ${wanted}${within}; values in use for "${r.key}": ${listText(inUse, 5)}${hint}`,
    fix: near
      ? `change the value to "${near}"`
      : `correct the value, or label the intended ${noun}s with ${wanted}`,
  };
}
