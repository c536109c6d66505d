/**
 * What a container runtime's libcni does with a conflist and with a plugin's
 * answer, so the lab can call weft-cni exactly as containerd or CRI-O would and
 * refuse what they would refuse:
 *
 * - libcni 1.2 and later (result versions up to 1.1.0) pick the highest of the
 *   conflist's `cniVersions` they know; older ones (containerd 1.6/1.7, results
 *   up to 1.0.0) read `cniVersion` alone.
 * - Each plugin gets its conflist entry plus `name`, `cniVersion` and, when
 *   chained or on DEL, `prevResult`.
 * - A result must be in the version that was sent, with only the fields that
 *   version defines; an older runtime fails on a newer result with
 *   `unsupported CNI result version`.
 */
import { isObject, type JsonObject } from './json-fields.js';
import { parseResult } from './result.js';
import { CniError } from './errors.js';
import {
  isSupportedVersion,
  SUPPORTED_VERSIONS,
  versionAtLeast,
  type CniVersion,
} from './result.js';

/** A runtime, by the newest CNI result version its libcni reads. */
export interface RuntimeProfile {
  readonly highest: CniVersion;
}

/** The versions such a runtime reads, oldest first. */
export function runtimeVersions(r: RuntimeProfile): CniVersion[] {
  return SUPPORTED_VERSIONS.filter((v) => versionAtLeast(r.highest, v));
}

/** Whether the runtime's libcni knows `cniVersions` (it came with 1.1.0, in libcni 1.2). */
export function readsVersionList(r: RuntimeProfile): boolean {
  return versionAtLeast(r.highest, '1.1.0');
}

/**
 * The version the runtime sends to every plugin of `conflist`, or a problem.
 * An older runtime sends `cniVersion` as it is, even one it cannot read back:
 * the failure then comes with the result, as it does with containerd 1.6.
 */
export function negotiateVersion(
  conflist: JsonObject,
  r: RuntimeProfile,
): { version: string } | { problem: string } {
  const declared = conflist['cniVersion'];
  const listed = conflist['cniVersions'];
  if (readsVersionList(r) && Array.isArray(listed)) {
    const known = runtimeVersions(r).filter((v) => listed.includes(v));
    const best = known[known.length - 1];
    if (best !== undefined) return { version: best };
    return { problem: `cniVersions ${JSON.stringify(listed)} names no version this runtime reads` };
  }
  if (typeof declared !== 'string') return { problem: 'the conflist has no cniVersion' };
  return { version: declared };
}

/** The config one plugin of the list receives on stdin. */
export function pluginConfig(
  conflist: JsonObject,
  plugin: JsonObject,
  version: string,
  prevResult?: JsonObject,
): JsonObject {
  return {
    ...plugin,
    name: conflist['name'],
    cniVersion: version,
    ...(prevResult === undefined ? {} : { prevResult }),
  };
}

const INTERFACE_FIELDS_1_0 = ['name', 'mac', 'sandbox'];
const INTERFACE_FIELDS_1_1 = [...INTERFACE_FIELDS_1_0, 'mtu', 'socketPath', 'pciID'];
const ROUTE_FIELDS_1_0 = ['dst', 'gw'];
const ROUTE_FIELDS_1_1 = [...ROUTE_FIELDS_1_0, 'mtu', 'advmss', 'priority', 'table', 'scope'];
const DNS_FIELDS = ['nameservers', 'domain', 'search', 'options'];

function extraKeys(o: unknown, allowed: readonly string[], path: string): string[] {
  if (!isObject(o)) return [`${path} is not an object`];
  return Object.keys(o)
    .filter((k) => !allowed.includes(k))
    .map((k) => `${path}.${k} is not a field of this version`);
}

function listProblems(o: JsonObject, key: string, allowed: readonly string[]): string[] {
  const list = o[key];
  if (list === undefined) return [];
  if (!Array.isArray(list)) return [`${key} is not a list`];
  return list.flatMap((item, i) => extraKeys(item, allowed, `${key}[${i}]`));
}

function ipVersionProblems(o: JsonObject, version: CniVersion): string[] {
  const ips = Array.isArray(o['ips']) ? (o['ips'] as unknown[]) : [];
  const v1 = versionAtLeast(version, '1.0.0');
  return ips.flatMap((ip, i) => {
    const has = isObject(ip) && ip['version'] !== undefined;
    if (v1 && has) return [`ips[${i}].version is not a field of this version`];
    if (!v1 && !has) return [`ips[${i}].version is required in this version`];
    return [];
  });
}

/**
 * Why a runtime that sent `sent` would refuse `result`; empty when it takes
 * it. A runtime that reads up to `r.highest` refuses any newer version.
 */
export function resultProblems(result: unknown, sent: string, r: RuntimeProfile): string[] {
  if (!isObject(result)) return ['the result is not a JSON object'];
  const got = result['cniVersion'];
  if (typeof got !== 'string' || !isSupportedVersion(got) || !versionAtLeast(r.highest, got)) {
    return [`unsupported CNI result version ${JSON.stringify(got)}`];
  }
  if (got !== sent) return [`the result is version ${got}, but the request was ${sent}`];
  const v11 = versionAtLeast(got, '1.1.0');
  const problems = [
    ...extraKeys(result, ['cniVersion', 'interfaces', 'ips', 'routes', 'dns'], 'result'),
    ...listProblems(result, 'interfaces', v11 ? INTERFACE_FIELDS_1_1 : INTERFACE_FIELDS_1_0),
    ...listProblems(result, 'ips', ['address', 'gateway', 'interface', 'version']),
    ...ipVersionProblems(result, got),
    ...listProblems(result, 'routes', v11 ? ROUTE_FIELDS_1_1 : ROUTE_FIELDS_1_0),
    ...(result['dns'] === undefined ? [] : extraKeys(result['dns'], DNS_FIELDS, 'dns')),
  ];
  if (problems.length > 0) return problems;
  try {
    parseResult(result, 'result');
  } catch (e) {
    return [e instanceof CniError ? e.msg : String(e)];
  }
  return [];
}
