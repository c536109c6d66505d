import { ErrorCodes, type ErrorCode, type Issue } from '../errors.js';
import { isPlainObject, ObjectReader, ParseContext } from './fields.js';
import { parseClusterNetworkPolicy } from './parse-cnp.js';
import { parseEndpointSlice } from './parse-endpointslice.js';
import { parseService } from './parse-service.js';
import { parseNetworkPolicy } from './parse-policy.js';
import { parseNamespace, parseNode, parsePod } from './parse-workloads.js';
import { describeObject, type ModelObject, type Origin } from './types.js';

/**
 * Turns one plain object (decoded from YAML or JSON) into a model object,
 * strictly: every problem of the object is reported at once, with the object,
 * the field and the fix, and the object is returned only when there is none.
 */
export interface ParseResult {
  readonly object?: ModelObject;
  readonly issues: Issue[];
  /** Set for a kind weft does not read (Deployment, ConfigMap ...): `Deployment prod/web`. */
  readonly skipped?: string;
}

interface KindSpec {
  readonly apiVersion: string;
  readonly namespaced: boolean;
  readonly parse: (root: ObjectReader, origin?: Origin) => ModelObject | undefined;
}

/** The kinds weft reads, each in the one API version it supports. */
const KINDS: Readonly<Record<string, KindSpec>> = {
  Namespace: { apiVersion: 'v1', namespaced: false, parse: parseNamespace },
  Pod: { apiVersion: 'v1', namespaced: true, parse: parsePod },
  Node: { apiVersion: 'v1', namespaced: false, parse: parseNode },
  NetworkPolicy: {
    apiVersion: 'networking.k8s.io/v1',
    namespaced: true,
    parse: parseNetworkPolicy,
  },
  ClusterNetworkPolicy: {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    namespaced: false,
    parse: parseClusterNetworkPolicy,
  },
  Service: { apiVersion: 'v1', namespaced: true, parse: parseService },
  EndpointSlice: {
    apiVersion: 'discovery.k8s.io/v1',
    namespaced: true,
    parse: parseEndpointSlice,
  },
};

/** Every kind weft reads, and whether its objects live in a namespace. */
export const READ_KINDS: ReadonlyMap<string, { readonly namespaced: boolean }> = new Map(
  Object.entries(KINDS).map(([kind, spec]) => [kind, { namespaced: spec.namespaced }]),
);

/** Kinds of the API groups weft reads that it knowingly leaves alone. */
const SKIPPED_IN_READ_GROUPS = new Set([
  'Endpoints',
  'ConfigMap',
  'Secret',
  'ServiceAccount',
  'PersistentVolumeClaim',
  'PersistentVolume',
  'ReplicationController',
  'PodTemplate',
  'LimitRange',
  'ResourceQuota',
  'Event',
  'Ingress',
  'IngressClass',
  'IPAddress',
  'ServiceCIDR',
]);

/** Namespaced kinds whose skipped name defaults to `default/<name>`. */
const NAMESPACED_OTHERS = new Set([
  'Endpoints',
  'ConfigMap',
  'Secret',
  'ServiceAccount',
  'PersistentVolumeClaim',
  'ReplicationController',
  'PodTemplate',
  'LimitRange',
  'ResourceQuota',
  'Event',
  'Ingress',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Role',
  'RoleBinding',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
]);

/** The network-policy-api kinds ClusterNetworkPolicy replaced. */
const SUPERSEDED: Readonly<Record<string, string>> = {
  AdminNetworkPolicy: 'Admin',
  BaselineAdminNetworkPolicy: 'Baseline',
};

function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Groups where an unknown kind is most likely a typo of one weft reads. */
function isReadGroup(group: string): boolean {
  return (
    group === '' ||
    group === 'networking.k8s.io' ||
    group === 'policy.networking.k8s.io' ||
    group === 'discovery.k8s.io'
  );
}

function peek(raw: Record<string, unknown>, key: string): string | undefined {
  const meta = raw['metadata'];
  if (!isPlainObject(meta)) return undefined;
  const v = meta[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function whereText(origin?: Origin): string {
  if (!origin?.file) return 'manifest';
  return `manifest (${origin.file}${origin.line ? `:${origin.line}` : ''})`;
}

function issue(
  object: string,
  field: string,
  message: string,
  fix?: string,
  code: ErrorCode = ErrorCodes.INVALID_FIELD,
): Issue {
  return fix === undefined
    ? { code, object, field, message }
    : { code, object, field, message, fix };
}

export function parseObject(raw: unknown, origin?: Origin): ParseResult {
  const where = whereText(origin);
  if (!isPlainObject(raw)) {
    const what = Array.isArray(raw) ? 'a list' : raw === null ? 'null' : typeof raw;
    const message = `a manifest must be an object with apiVersion and kind, got ${what}`;
    return { issues: [issue(where, '', message, 'write one Kubernetes object per YAML document')] };
  }
  const kind = raw['kind'];
  const apiVersion = raw['apiVersion'];
  const issues = [
    ...typeMetaIssue(where, 'kind', kind, 'NetworkPolicy'),
    ...typeMetaIssue(where, 'apiVersion', apiVersion, 'networking.k8s.io/v1'),
  ];
  if (typeof kind !== 'string' || typeof apiVersion !== 'string' || issues.length > 0) {
    return { issues };
  }
  const spec = KINDS[kind];
  if (spec) return parseKnown(raw, kind, apiVersion, spec, origin);
  return otherKind(raw, kind, apiVersion, origin);
}

function typeMetaIssue(where: string, key: string, value: unknown, example: string): Issue[] {
  if (typeof value === 'string' && value !== '') return [];
  const absent = value === undefined || value === null;
  return [
    issue(
      where,
      key,
      absent ? 'is required' : 'must be a non-empty string',
      `set ${key}, e.g. ${key}: ${example}`,
      absent ? ErrorCodes.MISSING_FIELD : ErrorCodes.INVALID_FIELD,
    ),
  ];
}

function parseKnown(
  raw: Record<string, unknown>,
  kind: string,
  apiVersion: string,
  spec: KindSpec,
  origin?: Origin,
): ParseResult {
  const name = peek(raw, 'name') ?? '<unnamed>';
  const namespace = spec.namespaced ? (peek(raw, 'namespace') ?? 'default') : undefined;
  const ctx = new ParseContext(
    describeObject({
      kind,
      name,
      ...(namespace ? { namespace } : {}),
      ...(origin ? { origin } : {}),
    }),
  );
  if (apiVersion !== spec.apiVersion) {
    ctx.invalid(
      'apiVersion',
      `${kind} is read in ${spec.apiVersion}, not ${apiVersion}`,
      `set apiVersion: ${spec.apiVersion}`,
    );
    return { issues: ctx.issues };
  }
  const root = new ObjectReader(ctx, '', raw);
  root.ignore('apiVersion', 'kind');
  const object = spec.parse(root, origin);
  // The top level is strict for every kind: parsers read spec/status, the rest is unknown.
  root.done();
  if (ctx.issues.length > 0 || !object) return { issues: ctx.issues };
  return { object, issues: [] };
}

/** A kind weft does not read: skipped, unless it looks like a mistake. */
function otherKind(
  raw: Record<string, unknown>,
  kind: string,
  apiVersion: string,
  origin?: Origin,
): ParseResult {
  const name = peek(raw, 'name') ?? '<unnamed>';
  const ns = peek(raw, 'namespace') ?? (NAMESPACED_OTHERS.has(kind) ? 'default' : undefined);
  const object = describeObject({
    kind,
    name,
    ...(ns ? { namespace: ns } : {}),
    ...(origin ? { origin } : {}),
  });
  const why = unreadKindProblem(raw, kind, apiVersion);
  if (why) {
    return { issues: [issue(object, 'kind', why.message, why.fix, ErrorCodes.UNKNOWN_KIND)] };
  }
  return { issues: [], skipped: `${kind} ${ns ? `${ns}/${name}` : name}` };
}

function unreadKindProblem(
  raw: Record<string, unknown>,
  kind: string,
  apiVersion: string,
): { message: string; fix: string } | undefined {
  const tier = SUPERSEDED[kind];
  if (tier) {
    return {
      message: `${kind} (${apiVersion}) is not read by weft: ClusterNetworkPolicy replaced it`,
      fix: `rewrite it as a ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2) with tier: ${tier}`,
    };
  }
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(raw['items']))) {
    return {
      message: `a ${kind} must be expanded into its items before parsing`,
      fix: 'load it with the manifest loader',
    };
  }
  if (isReadGroup(apiGroup(apiVersion)) && !SKIPPED_IN_READ_GROUPS.has(kind)) {
    const known = Object.entries(KINDS)
      .map(([k, s]) => `${k} (${s.apiVersion})`)
      .join(', ');
    return {
      message: `unknown kind ${JSON.stringify(kind)} in ${apiVersion}`,
      fix: `check its spelling; weft reads ${known}`,
    };
  }
  return undefined;
}
