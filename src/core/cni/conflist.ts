/**
 * The network configuration list the install-cni container writes to
 * `/etc/cni/net.d/10-weft.conflist` once the agent is ready.
 */
import { definedOnly } from './json-fields.js';
import { parseNetConf } from './netconf.js';
import { CURRENT_VERSION, type CniVersion } from './result.js';

export const CONFLIST_FILE = '10-weft.conflist';
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
  parseNetConf({ cniVersion: CURRENT_VERSION, name: NETWORK_NAME, ...plugin });
  return { cniVersion: CURRENT_VERSION, name: NETWORK_NAME, plugins: [plugin] };
}
