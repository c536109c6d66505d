/**
 * The network configuration list the install-cni container writes to
 * `/etc/cni/net.d/10-weft.conflist` once the agent is ready.
 */
import { definedOnly } from './json-fields.js';
import { parseNetConf } from './netconf.js';
import type { CniVersion } from './result.js';

export const CONFLIST_FILE = '10-weft.conflist';

/**
 * What a runtime reads: one before libcni 1.2 (containerd 1.6/1.7, CRI-O of
 * their age) knows only `cniVersion` and results up to 1.0.0; a newer one
 * picks the highest of `cniVersions` it supports, 1.1.0 (GC, STATUS).
 */
export const CONFLIST_VERSION: CniVersion = '1.0.0';
export const CONFLIST_VERSIONS: readonly CniVersion[] = ['0.4.0', '1.0.0', '1.1.0'];
export const NETWORK_NAME = 'weft';

export interface WeftConflistOptions {
  /** The pod interface's MTU (576..9000); the agent's default when absent. */
  readonly mtu?: number;
  /** The agent's CNI socket; the plugin's default (/run/weft/cni.sock) when absent. */
  readonly agentSocket?: string;
}

export interface WeftPluginConf {
  readonly type: 'weft';
  readonly mtu?: number;
  readonly agentSocket?: string;
}

export interface WeftConflist {
  readonly cniVersion: CniVersion;
  readonly cniVersions: readonly CniVersion[];
  readonly name: string;
  readonly plugins: readonly WeftPluginConf[];
}

/**
 * The conflist object (write it with JSON.stringify). The plugin entry is
 * checked by the same rules the plugin applies to its stdin, so a bad `mtu` or
 * `agentSocket` fails here (CniError 7) rather than at the first pod.
 */
export function weftConflist(options: WeftConflistOptions = {}): WeftConflist {
  const plugin: WeftPluginConf = definedOnly({
    type: 'weft',
    mtu: options.mtu,
    agentSocket: options.agentSocket,
  });
  for (const cniVersion of CONFLIST_VERSIONS)
    parseNetConf({ cniVersion, name: NETWORK_NAME, ...plugin });
  return {
    cniVersion: CONFLIST_VERSION,
    cniVersions: [...CONFLIST_VERSIONS],
    name: NETWORK_NAME,
    plugins: [plugin],
  };
}
