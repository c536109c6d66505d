/**
 * The CNI Result (spec 1.1.0), the spec versions weft speaks, and the result's
 * shape in each of them: 1.x as is; 0.3.x/0.4.0 add `version` to every IP and
 * know none of the interface and route fields that 1.1.0 added.
 */
import { CniError, CniErrorCodes } from './errors.js';
import {
  definedOnly,
  invalidField,
  optInt,
  optObject,
  optObjectArray,
  optString,
  optStringArray,
  reqString,
  type JsonObject,
} from './json-fields.js';
import { parseCidr } from '../net/cidr.js';
import { parseIp } from '../net/ip.js';

/** Oldest first. 0.1.0/0.2.0 (no rich result) are not supported. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const CURRENT_VERSION: CniVersion = '1.1.0';

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Whether `v` is `min` or later. */
export function versionAtLeast(v: CniVersion, min: CniVersion): boolean {
  return SUPPORTED_VERSIONS.indexOf(v) >= SUPPORTED_VERSIONS.indexOf(min);
}

export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  /** 1.1.0 */
  readonly mtu?: number;
  /** The netns path for an interface inside the container; absent for host interfaces. */
  readonly sandbox?: string;
  /** 1.1.0 */
  readonly socketPath?: string;
  /** 1.1.0 */
  readonly pciID?: string;
}

export interface CniIpConfig {
  /** CIDR: the address with its prefix, e.g. `10.244.1.5/32`. */
  readonly address: string;
  readonly gateway?: string;
  /** Index into `interfaces`. */
  readonly interface?: number;
}

export interface CniRoute {
  readonly dst: string;
  readonly gw?: string;
  /** 1.1.0 */
  readonly mtu?: number;
  /** 1.1.0 */
  readonly advmss?: number;
  /** 1.1.0 */
  readonly priority?: number;
  /** 1.1.0 */
  readonly table?: number;
  /** 1.1.0 */
  readonly scope?: number;
}

export interface CniDns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/** A Result in weft's internal (1.1.0) form, without its cniVersion. */
export interface CniResult {
  readonly interfaces?: readonly CniInterface[];
  readonly ips?: readonly CniIpConfig[];
  readonly routes?: readonly CniRoute[];
  readonly dns?: CniDns;
}

/** An IP entry as printed for 0.3.x/0.4.0. */
export interface CniIpConfigV0 extends CniIpConfig {
  readonly version: '4' | '6';
}

/** The JSON printed for ADD, in the shape of `cniVersion`. */
export interface CniResultJson {
  readonly cniVersion: CniVersion;
  readonly interfaces?: readonly CniInterface[];
  readonly ips?: readonly (CniIpConfig | CniIpConfigV0)[];
  readonly routes?: readonly CniRoute[];
  readonly dns?: CniDns;
}

/** The answer to VERSION. */
export interface VersionResult {
  readonly cniVersion: CniVersion;
  readonly supportedVersions: readonly CniVersion[];
}

/** The answer to VERSION, in the version the runtime named when weft supports it. */
export function versionResult(requested?: string): VersionResult {
  const cniVersion =
    requested !== undefined && isSupportedVersion(requested) ? requested : CURRENT_VERSION;
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}

/**
 * `result` in the shape of `cniVersion`, with only the fields that version
 * defines: 1.1.0 as is; 1.0.0 without the interface and route fields 1.1.0
 * added (mtu, socketPath, pciID; mtu, advmss, priority, table, scope);
 * 0.3.x/0.4.0 as 1.0.0 plus `version` on every IP.
 */
export function resultForVersion(result: CniResult, cniVersion: CniVersion): CniResultJson {
  const v11 = versionAtLeast(cniVersion, '1.1.0');
  const v1 = versionAtLeast(cniVersion, '1.0.0');
  const interfaces = result.interfaces?.map((i) =>
    definedOnly(v11 ? { ...i } : { name: i.name, mac: i.mac, sandbox: i.sandbox }),
  );
  const ips = result.ips?.map((ip) =>
    definedOnly(v1 ? { ...ip } : { ...ip, version: ip.address.includes(':') ? '6' : '4' }),
  );
  const routes = result.routes?.map((r) => definedOnly(v11 ? { ...r } : { dst: r.dst, gw: r.gw }));
  const dns = result.dns === undefined ? undefined : definedOnly({ ...result.dns });
  return definedOnly({ cniVersion, interfaces, ips, routes, dns });
}

function cidrField(obj: JsonObject, key: string, path: string): string {
  const v = reqString(obj, key, path);
  if (parseCidr(v) === undefined) throw invalidField(`${path}.${key}`, 'an address/prefix', v);
  return v;
}

function optIpField(obj: JsonObject, key: string, path: string): string | undefined {
  const v = optString(obj, key, path);
  if (v !== undefined && parseIp(v) === undefined) {
    throw invalidField(`${path}.${key}`, 'an IP address', v);
  }
  return v;
}

const U32 = 0xffffffff;

function readInterface(o: JsonObject, path: string): CniInterface {
  return definedOnly({
    name: reqString(o, 'name', path),
    mac: optString(o, 'mac', path),
    mtu: optInt(o, 'mtu', path, 0, U32),
    sandbox: optString(o, 'sandbox', path),
    socketPath: optString(o, 'socketPath', path),
    pciID: optString(o, 'pciID', path),
  });
}

function readIp(o: JsonObject, path: string): CniIpConfig {
  const address = cidrField(o, 'address', path);
  const version = o['version'];
  if (version !== undefined && version !== '4' && version !== '6') {
    throw invalidField(`${path}.version`, '"4" or "6"', version);
  }
  return definedOnly({
    address,
    gateway: optIpField(o, 'gateway', path),
    interface: optInt(o, 'interface', path, 0, U32),
  });
}

function readRoute(o: JsonObject, path: string): CniRoute {
  return definedOnly({
    dst: cidrField(o, 'dst', path),
    gw: optIpField(o, 'gw', path),
    mtu: optInt(o, 'mtu', path, 0, U32),
    advmss: optInt(o, 'advmss', path, 0, U32),
    priority: optInt(o, 'priority', path, 0, U32),
    table: optInt(o, 'table', path, 0, U32),
    scope: optInt(o, 'scope', path, 0, 255),
  });
}

/** Reads a `dns` object (of a config or a result) at `path`. */
export function readDns(o: JsonObject, path: string): CniDns {
  return definedOnly({
    nameservers: optStringArray(o, 'nameservers', path),
    domain: optString(o, 'domain', path),
    search: optStringArray(o, 'search', path),
    options: optStringArray(o, 'options', path),
  });
}

/**
 * Reads a Result of any supported version (e.g. a config's `prevResult`) into
 * the internal form. Unknown keys are ignored: the runtime built it, possibly
 * from other plugins of the chain. Throws CniError 7 naming the bad field.
 */
export function parseResult(o: JsonObject, path: string): CniResult {
  const interfaces = optObjectArray(o, 'interfaces', path, readInterface);
  const ips = optObjectArray(o, 'ips', path, readIp);
  ips?.forEach((ip, i) => {
    if (ip.interface !== undefined && ip.interface >= (interfaces?.length ?? 0)) {
      throw new CniError(
        CniErrorCodes.INVALID_NETWORK_CONFIG,
        `${path}.ips[${i}].interface is ${ip.interface}, but ${path}.interfaces has ${interfaces?.length ?? 0} entries`,
      );
    }
  });
  const routes = optObjectArray(o, 'routes', path, readRoute);
  const dnsObject = optObject(o, 'dns', path);
  const dns = dnsObject === undefined ? undefined : readDns(dnsObject, `${path}.dns`);
  return definedOnly({ interfaces, ips, routes, dns });
}
