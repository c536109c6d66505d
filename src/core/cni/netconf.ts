/**
 * weft's plugin config (the JSON on stdin): the spec's fields, the ones
 * runtimes inject, and weft's own (`mtu`, `agentSocket`). A key weft does not
 * know is error 2, naming it, its value and the fix.
 */
import { CniError, CniErrorCodes } from './errors.js';
import {
  definedOnly,
  invalidField,
  missingField,
  optBoolean,
  optInt,
  optObject,
  optObjectArray,
  optString,
  optStringArray,
  reqString,
  showValue,
  type JsonObject,
} from './json-fields.js';
import {
  isSupportedVersion,
  parseResult,
  readDns,
  SUPPORTED_VERSIONS,
  type CniDns,
  type CniResult,
  type CniVersion,
} from './result.js';

export const DEFAULT_AGENT_SOCKET = '/run/weft/cni.sock';
export const MIN_MTU = 576;
export const MAX_MTU = 9000;

/** One attachment the runtime still uses; GC keeps it and removes everything else. */
export interface GcAttachment {
  readonly containerId: string;
  readonly ifname: string;
}

export interface NetConf {
  /** The version the request names: every answer uses its shape. */
  readonly cniVersion: CniVersion;
  readonly name: string;
  readonly type: 'weft';
  /** The pod interface's MTU; the agent's default when absent. */
  readonly mtu?: number;
  /** The agent's CNI socket; DEFAULT_AGENT_SOCKET when absent. */
  readonly agentSocket: string;
  readonly args?: JsonObject;
  readonly capabilities?: Readonly<Record<string, boolean>>;
  readonly runtimeConfig?: JsonObject;
  readonly prevResult?: CniResult;
  readonly dns?: CniDns;
  readonly disableCheck?: boolean;
  readonly disableGC?: boolean;
  /** `cni.dev/valid-attachments` and `cni.dev/attachments`, merged (libcni sends both). */
  readonly validAttachments?: readonly GcAttachment[];
}

/** Every top-level key weft accepts, and why it is there. */
const KNOWN_FIELDS: Readonly<Record<string, string>> = {
  cniVersion: 'spec',
  cniVersions: 'spec 1.1.0: versions the config may be used with',
  name: 'spec',
  type: 'spec: must be "weft"',
  mtu: 'weft',
  agentSocket: 'weft',
  args: 'injected by runtimes',
  capabilities: 'spec',
  runtimeConfig: 'injected by runtimes for capabilities',
  prevResult: 'injected by runtimes for CHECK and DEL',
  dns: 'spec',
  disableCheck: 'spec (configuration list)',
  disableGC: 'spec 1.1.0 (configuration list)',
  'cni.dev/valid-attachments': 'spec 1.1.0: injected for GC',
  'cni.dev/attachments': 'libcni injects it beside cni.dev/valid-attachments',
};

/** Fixes for keys other plugins' configs have and weft's does not. */
const KNOWN_FIXES: Readonly<Record<string, string>> = {
  ipam: 'weft allocates addresses itself; remove ipam',
};

function fixFor(key: string): string {
  const fix = KNOWN_FIXES[key];
  if (fix !== undefined) return fix;
  const near = Object.keys(KNOWN_FIELDS).find((k) => k.toLowerCase() === key.toLowerCase());
  if (near !== undefined) return `did you mean "${near}"?`;
  return `remove ${key}; weft's plugin config knows only mtu and agentSocket besides the spec's fields`;
}

function rejectUnknownFields(raw: JsonObject): void {
  const unknown = Object.keys(raw).filter((k) => !Object.hasOwn(KNOWN_FIELDS, k));
  const [first, ...rest] = unknown;
  if (first === undefined) return;
  throw new CniError(
    CniErrorCodes.UNSUPPORTED_FIELD,
    `unsupported field "${first}" (${showValue(raw[first])}) in the weft network config: ${fixFor(first)}`,
    rest.length > 0 ? `also unsupported: ${rest.join(', ')}` : undefined,
  );
}

/**
 * The version the request names. A runtime picks it (from a conflist's
 * `cniVersion`, or the highest of its `cniVersions` the runtime knows) and
 * writes it into each plugin's config; weft answers in exactly that version,
 * since an older runtime cannot read a newer result (libcni before 1.2 reads
 * results up to 1.0.0). `cniVersions`, if a config carries it, is checked for
 * shape only: it never raises the version of the answer.
 */
function requestedVersion(raw: JsonObject): CniVersion {
  const declared = raw['cniVersion'];
  if (declared === undefined) throw missingField('cniVersion', 'a version such as "1.0.0"');
  if (typeof declared !== 'string') {
    throw invalidField('cniVersion', 'a string such as "1.0.0"', declared);
  }
  optStringArray(raw, 'cniVersions', '');
  if (!isSupportedVersion(declared)) {
    throw new CniError(
      CniErrorCodes.INCOMPATIBLE_VERSION,
      `the network config's cniVersion "${declared}" is not supported; weft supports ${SUPPORTED_VERSIONS.join(', ')}`,
      `set "cniVersion" to one of them (a conflist may list several in "cniVersions")`,
    );
  }
  return declared;
}

const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function readName(raw: JsonObject): string {
  const name = reqString(raw, 'name', '');
  if (!NETWORK_NAME.test(name)) {
    throw invalidField(
      'name',
      'a letter or digit followed by letters, digits, "_", "." or "-"',
      name,
    );
  }
  return name;
}

function readType(raw: JsonObject): 'weft' {
  const type = reqString(raw, 'type', '');
  if (type !== 'weft') throw invalidField('type', '"weft"', type);
  return type;
}

function readAgentSocket(raw: JsonObject): string {
  const socket = optString(raw, 'agentSocket', '');
  if (socket === undefined) return DEFAULT_AGENT_SOCKET;
  if (!socket.startsWith('/')) {
    throw invalidField('agentSocket', `an absolute path such as "${DEFAULT_AGENT_SOCKET}"`, socket);
  }
  return socket;
}

function readCapabilities(raw: JsonObject): Readonly<Record<string, boolean>> | undefined {
  const caps = optObject(raw, 'capabilities', '');
  if (caps === undefined) return undefined;
  for (const key of Object.keys(caps)) optBoolean(caps, key, 'capabilities');
  return caps as Readonly<Record<string, boolean>>;
}

function readAttachment(o: JsonObject, path: string): GcAttachment {
  return { containerId: reqString(o, 'containerID', path), ifname: reqString(o, 'ifname', path) };
}

/** Both keys merged, each attachment once: keeping too much is safe, removing too much is not. */
function readValidAttachments(raw: JsonObject): readonly GcAttachment[] | undefined {
  const valid = optObjectArray(raw, 'cni.dev/valid-attachments', '', readAttachment);
  const legacy = optObjectArray(raw, 'cni.dev/attachments', '', readAttachment);
  if (valid === undefined && legacy === undefined) return undefined;
  const byKey = new Map<string, GcAttachment>();
  for (const a of [...(valid ?? []), ...(legacy ?? [])]) {
    byKey.set(`${a.containerId}\u0000${a.ifname}`, a);
  }
  return [...byKey.values()];
}

/**
 * Reads weft's plugin config. Order: version (1), unknown keys (2), then each
 * field (7), so the runtime sees the most fundamental problem first.
 */
export function parseNetConf(raw: JsonObject): NetConf {
  const cniVersion = requestedVersion(raw);
  rejectUnknownFields(raw);
  const name = readName(raw);
  const type = readType(raw);
  const prev = optObject(raw, 'prevResult', '');
  const dns = optObject(raw, 'dns', '');
  return definedOnly({
    cniVersion,
    name,
    type,
    mtu: optInt(raw, 'mtu', '', MIN_MTU, MAX_MTU),
    agentSocket: readAgentSocket(raw),
    args: optObject(raw, 'args', ''),
    capabilities: readCapabilities(raw),
    runtimeConfig: optObject(raw, 'runtimeConfig', ''),
    prevResult: prev === undefined ? undefined : parseResult(prev, 'prevResult'),
    dns: dns === undefined ? undefined : readDns(dns, 'dns'),
    disableCheck: optBoolean(raw, 'disableCheck', ''),
    disableGC: optBoolean(raw, 'disableGC', ''),
    validAttachments: readValidAttachments(raw),
  });
}
