/**
 * A CNI invocation (environment + stdin) read into a typed request, once, at
 * the edge. Every problem is a CniError with the spec's code: 4 for the
 * environment, 6 for JSON syntax, 1 for the version, 2 for a field weft does
 * not support, 7 for a missing or mistyped field.
 */
import { CniError, CniErrorCodes } from './errors.js';
import { definedOnly, isObject, optString } from './json-fields.js';
import { parseNetConf, type GcAttachment, type NetConf } from './netconf.js';
import { versionAtLeast, type CniResult, type CniVersion } from './result.js';

export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

export function isCniCommand(s: string): s is CniCommand {
  return (CNI_COMMANDS as readonly string[]).includes(s);
}

/** Fields of the commands that act on one attachment (ADD, DEL, CHECK). */
interface AttachmentFields {
  /** CNI_CONTAINERID */
  readonly containerId: string;
  /** CNI_IFNAME: the interface name inside the container. */
  readonly ifname: string;
  /** CNI_ARGS as pairs, e.g. K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID. */
  readonly args: Readonly<Record<string, string>>;
  /** CNI_PATH split on `:`. */
  readonly path: readonly string[];
  readonly config: NetConf;
}

export interface AddRequest extends AttachmentFields {
  readonly command: 'ADD';
  /** CNI_NETNS: path of the container's network namespace. */
  readonly netns: string;
}

export interface DelRequest extends AttachmentFields {
  readonly command: 'DEL';
  /** Absent when the runtime no longer knows the namespace; DEL must still clean up. */
  readonly netns?: string;
  /** The result of the previous ADD, when the runtime has it. */
  readonly prevResult?: CniResult;
}

export interface CheckRequest extends AttachmentFields {
  readonly command: 'CHECK';
  readonly netns: string;
  /** The result of the previous ADD (required for CHECK). */
  readonly prevResult: CniResult;
}

export interface GcRequest {
  readonly command: 'GC';
  readonly path: readonly string[];
  readonly config: NetConf;
  readonly validAttachments: readonly GcAttachment[];
}

export interface StatusRequest {
  readonly command: 'STATUS';
  readonly path: readonly string[];
  readonly config: NetConf;
}

export interface VersionRequest {
  readonly command: 'VERSION';
  /** The version the runtime speaks (stdin `{"cniVersion": ...}`), when it sent one. */
  readonly cniVersion?: string;
}

export type CniRequest =
  AddRequest | DelRequest | CheckRequest | GcRequest | StatusRequest | VersionRequest;

type Env = Readonly<Record<string, string | undefined>>;

/** A value from the environment, quoted and escaped for a message (newlines stay visible). */
function quote(s: string): string {
  return JSON.stringify(s);
}

function invalidEnv(msg: string, details?: string): CniError {
  return new CniError(CniErrorCodes.INVALID_ENVIRONMENT, msg, details);
}

/** A variable that must be set and non-empty for `command`. */
function requiredEnv(env: Env, name: string, command: CniCommand): string {
  const v = env[name];
  if (v === undefined || v === '')
    throw invalidEnv(`${name} is required for ${command} but is not set`);
  return v;
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Linux IFNAMSIZ is 16 bytes with the terminating NUL. */
const MAX_IFNAME_BYTES = 15;

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/** Why `ifname` is not a valid interface name; undefined when it is. */
export function ifnameProblem(ifname: string): string | undefined {
  if (ifname === '') return 'it is empty';
  if (ifname === '.' || ifname === '..') return `${quote(ifname)} is not allowed`;
  if (utf8Length(ifname) > MAX_IFNAME_BYTES) return `it is longer than ${MAX_IFNAME_BYTES} bytes`;
  if (/[/:\s]/.test(ifname)) return 'it contains "/", ":" or whitespace';
  return undefined;
}

export function isValidContainerId(id: string): boolean {
  return CONTAINER_ID.test(id);
}

/**
 * CNI_ARGS: `K=V;K=V`. Every key is accepted (K8S_POD_NAMESPACE, K8S_POD_NAME,
 * K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID, IgnoreUnknown, ...); empty segments
 * are skipped; a pair without `=`, with an empty key, or a repeated key is error 4.
 */
export function parseCniArgs(text: string): Readonly<Record<string, string>> {
  const pairs = new Map<string, string>();
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw invalidEnv(
        `CNI_ARGS has an invalid pair ${quote(pair)}`,
        'CNI_ARGS must be KEY=VALUE pairs separated by ";", e.g. "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web"',
      );
    }
    const key = pair.slice(0, eq);
    if (pairs.has(key)) throw invalidEnv(`CNI_ARGS sets ${quote(key)} more than once`);
    pairs.set(key, pair.slice(eq + 1));
  }
  return Object.fromEntries(pairs);
}

function parsePathList(text: string): readonly string[] {
  return text.split(':').filter((p) => p !== '');
}

function netnsValue(value: string): string {
  if (!value.startsWith('/')) {
    throw invalidEnv(
      `CNI_NETNS ${quote(value)} is not an absolute path`,
      'it must name the network namespace, e.g. /var/run/netns/cni-1234 or /proc/42/ns/net',
    );
  }
  return value;
}

/** The attachment's env values, checked before stdin is read. */
function attachmentEnv(env: Env, command: CniCommand): Omit<AttachmentFields, 'config'> {
  const containerId = requiredEnv(env, 'CNI_CONTAINERID', command);
  if (!isValidContainerId(containerId)) {
    throw invalidEnv(
      `CNI_CONTAINERID ${quote(containerId)} is invalid`,
      'it must start with a letter or digit, followed by letters, digits, "_", "." or "-"',
    );
  }
  const ifname = requiredEnv(env, 'CNI_IFNAME', command);
  const problem = ifnameProblem(ifname);
  if (problem !== undefined) {
    throw invalidEnv(
      `CNI_IFNAME ${quote(ifname)} is invalid: ${problem}`,
      'an interface name is 1 to 15 bytes, not "." or "..", without "/", ":" or whitespace',
    );
  }
  const args = parseCniArgs(env['CNI_ARGS'] ?? '');
  const path = parsePathList(requiredEnv(env, 'CNI_PATH', command));
  return { containerId, ifname, args, path };
}

/** The env variables every command needs, checked before stdin is read. */
function checkEnv(env: Env, command: CniCommand): void {
  switch (command) {
    case 'ADD':
    case 'CHECK':
      for (const name of ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']) {
        requiredEnv(env, name, command);
      }
      return;
    case 'DEL':
      for (const name of ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'])
        requiredEnv(env, name, command);
      return;
    case 'GC':
    case 'STATUS':
      requiredEnv(env, 'CNI_PATH', command);
      return;
    case 'VERSION':
      return;
  }
}

function parseJson(stdin: string): unknown {
  try {
    return JSON.parse(stdin) as unknown;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new CniError(
      CniErrorCodes.DECODE_ERROR,
      'the network config on stdin is not valid JSON',
      why,
    );
  }
}

function parseVersionRequest(stdin: string): VersionRequest {
  if (stdin.trim() === '') return { command: 'VERSION' };
  const raw = parseJson(stdin);
  if (!isObject(raw)) return { command: 'VERSION' };
  const cniVersion = optString(raw, 'cniVersion', '');
  return cniVersion === undefined ? { command: 'VERSION' } : { command: 'VERSION', cniVersion };
}

/** The lowest config version a command exists in. */
const MIN_VERSION: Readonly<Record<CniCommand, CniVersion>> = {
  ADD: '0.3.0',
  DEL: '0.3.0',
  CHECK: '0.4.0',
  GC: '1.1.0',
  STATUS: '1.1.0',
  VERSION: '0.3.0',
};

function requireVersionFor(command: CniCommand, config: NetConf): void {
  const min = MIN_VERSION[command];
  if (!versionAtLeast(config.cniVersion, min)) {
    throw new CniError(
      CniErrorCodes.INCOMPATIBLE_VERSION,
      `${command} needs cniVersion ${min} or later, but the network config says ${config.cniVersion}`,
      `set "cniVersion": "${min}" (or later) in the network config`,
    );
  }
}

/** The config on stdin, checked to allow `command`. */
function configFor(command: CniCommand, stdin: string): NetConf {
  const raw = parseJson(stdin);
  if (!isObject(raw)) {
    throw new CniError(
      CniErrorCodes.INVALID_NETWORK_CONFIG,
      'the network config must be a JSON object',
    );
  }
  const config = parseNetConf(raw);
  requireVersionFor(command, config);
  return config;
}

function addRequest(env: Env, stdin: string): AddRequest {
  const fields = attachmentEnv(env, 'ADD');
  const netns = netnsValue(env['CNI_NETNS'] ?? '');
  return { command: 'ADD', ...fields, netns, config: configFor('ADD', stdin) };
}

function checkRequest(env: Env, stdin: string): CheckRequest {
  const fields = attachmentEnv(env, 'CHECK');
  const netns = netnsValue(env['CNI_NETNS'] ?? '');
  const config = configFor('CHECK', stdin);
  if (config.prevResult === undefined) {
    throw new CniError(
      CniErrorCodes.INVALID_NETWORK_CONFIG,
      'CHECK needs prevResult (the result of the previous ADD) in the network config, but it is missing',
    );
  }
  return { command: 'CHECK', ...fields, netns, config, prevResult: config.prevResult };
}

function delRequest(env: Env, stdin: string): DelRequest {
  const fields = attachmentEnv(env, 'DEL');
  const netnsText = env['CNI_NETNS'];
  const netns = netnsText ? netnsValue(netnsText) : undefined;
  const config = configFor('DEL', stdin);
  return definedOnly({ command: 'DEL', ...fields, netns, config, prevResult: config.prevResult });
}

/**
 * Reads one CNI invocation; throws CniError with the spec's code for any
 * problem. The environment is checked completely before stdin is read.
 */
export function parseCniRequest(env: Env, stdin: string): CniRequest {
  const commandText = env['CNI_COMMAND'];
  if (commandText === undefined || commandText === '') {
    throw invalidEnv('CNI_COMMAND is not set', `set it to one of ${CNI_COMMANDS.join(', ')}`);
  }
  if (!isCniCommand(commandText)) {
    throw invalidEnv(
      `CNI_COMMAND ${quote(commandText)} is unknown`,
      `weft supports ${CNI_COMMANDS.join(', ')}`,
    );
  }
  const command = commandText;
  checkEnv(env, command);
  switch (command) {
    case 'ADD':
      return addRequest(env, stdin);
    case 'CHECK':
      return checkRequest(env, stdin);
    case 'DEL':
      return delRequest(env, stdin);
    case 'GC': {
      const path = parsePathList(env['CNI_PATH'] ?? '');
      const config = configFor(command, stdin);
      return { command, path, config, validAttachments: gcAttachments(config) };
    }
    case 'STATUS': {
      const path = parsePathList(env['CNI_PATH'] ?? '');
      return { command, path, config: configFor(command, stdin) };
    }
    case 'VERSION':
      return parseVersionRequest(stdin);
  }
}

/** GC without the list of valid attachments would remove everything: refuse. */
function gcAttachments(config: NetConf): readonly GcAttachment[] {
  if (config.validAttachments === undefined) {
    throw new CniError(
      CniErrorCodes.INVALID_NETWORK_CONFIG,
      'GC needs "cni.dev/valid-attachments" in the network config, but it is missing',
      'without it every attachment would look stale; weft removes nothing',
    );
  }
  return config.validAttachments;
}

export type { GcAttachment, NetConf } from './netconf.js';
