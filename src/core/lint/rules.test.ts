import test from 'node:test';
import assert from 'node:assert/strict';
import { lintCluster, LintCodes } from '../lint.js';
import { cluster, ipBlock, np, pod, rule } from '../../testing/builders.js';

const pods = [pod('prod/web', { app: 'web' })];

test('an except entry covering the whole cidr is reported', () => {
  const c = cluster({
    pods,
    networkPolicies: [
      np('prod/web', {
        ingress: [
          rule([
            ipBlock('10.0.0.0/24', '192.168.0.0/16', '10.0.0.0/8'),
            ipBlock('10.1.0.0/16', '10.1.0.0/17'),
          ]),
        ],
      }),
    ],
  });
  assert.deepEqual(
    lintCluster(c).filter((f) => f.code === LintCodes.EXCEPT_COVERS_CIDR),
    [
      {
        severity: 'warning',
        code: 'WEFT_LINT_EXCEPT_COVERS_CIDR',
        object: 'NetworkPolicy prod/web',
        field: 'spec.ingress[0].from[0].ipBlock.except[1]',
        message: 'except 10.0.0.0/8 covers the whole cidr 10.0.0.0/24: this peer matches nothing',
        fix: 'except only addresses inside the cidr that must stay out, or remove the peer',
      },
    ],
  );
});

test('except entries that together cover the cidr are reported on the except list', () => {
  const c = cluster({
    pods,
    networkPolicies: [
      np('prod/web', {
        policyTypes: ['egress'],
        egress: [rule(), rule([ipBlock('fd00::/64', 'fd00::/65', 'fd00::8000:0:0:0/65')])],
      }),
    ],
  });
  const found = lintCluster(c).filter((f) => f.code === LintCodes.EXCEPT_COVERS_CIDR);
  assert.deepEqual(
    found.map((f) => [f.field, f.message]),
    [
      [
        'spec.egress[1].to[0].ipBlock.except',
        'the except entries together cover the whole cidr fd00::/64: this peer matches nothing',
      ],
    ],
  );
});

test('rules of a direction missing from policyTypes are reported as ignored', () => {
  const c = cluster({
    pods,
    networkPolicies: [
      np('prod/in', { policyTypes: ['ingress'], ingress: [rule()], egress: [rule(), rule()] }),
      np('prod/out', { policyTypes: ['egress'], ingress: [rule()], egress: [rule()] }),
    ],
  });
  assert.deepEqual(
    lintCluster(c).filter((f) => f.code === LintCodes.IGNORED_RULES),
    [
      {
        severity: 'warning',
        code: 'WEFT_LINT_IGNORED_RULES',
        object: 'NetworkPolicy prod/in',
        field: 'spec.egress',
        message: 'spec.policyTypes is [Ingress], without Egress: its 2 egress rules are ignored',
        fix: 'add Egress to spec.policyTypes to enforce them, or remove spec.egress',
      },
      {
        severity: 'warning',
        code: 'WEFT_LINT_IGNORED_RULES',
        object: 'NetworkPolicy prod/out',
        field: 'spec.ingress',
        message: 'spec.policyTypes is [Egress], without Ingress: its ingress rule is ignored',
        fix: 'add Ingress to spec.policyTypes to enforce it, or remove spec.ingress',
      },
    ],
  );
});

test('ignored rules are not linted further', () => {
  const c = cluster({
    pods,
    networkPolicies: [
      np('prod/in', { ingress: [rule()], egress: [rule([ipBlock('10.0.0.0/24', '10.0.0.0/8')])] }),
    ],
  });
  assert.deepEqual(
    lintCluster(c).map((f) => f.code),
    ['WEFT_LINT_IGNORED_RULES'],
  );
});
