/**
 * The lab's external host: a network namespace on the underlay bridge that
 * is not a node, as a laptop on the nodes' LAN. It has an address on the
 * underlay subnet and one route: the lab's external range (where Services
 * are reached from outside: externalIPs, LoadBalancer addresses) through a
 * node, as a router that learnt it would. It has no route to pods or
 * ClusterIPs: what it reaches, it reaches as the outside world does.
 */
import { ErrorCodes, WeftError } from '../core/errors.js';
import { cidrOverlaps, formatCidr, parseCidr } from '../core/net/cidr.js';
import { run } from '../host/exec.js';
import {
  NODE_SUBNET_PREFIX,
  POD_RANGE,
  UNDERLAY_BRIDGE,
  UNDERLAY_SUBNET,
  type LabExternal,
  type LabNode,
  type LabPaths,
  type LabState,
} from './state.js';

export const EXTERNAL_ADDRESS = `${NODE_SUBNET_PREFIX}200`;

export interface ExternalOptions {
  /** The external range, IPv4 CIDR. */
  readonly cidr: string;
  /** The node the range is routed through. */
  readonly via: string;
}

export const DEFAULT_EXTERNAL: ExternalOptions = { cidr: '192.168.230.0/24', via: 'node-1' };

/**
 * The external options in canonical form, checked against the lab about to be
 * built: a WeftError naming the flag and the fix when they cannot be.
 */
export function checkExternal(o: ExternalOptions, nodeNames: readonly string[]): ExternalOptions {
  const usage = (field: string, message: string, fix: string) =>
    WeftError.of({ code: ErrorCodes.USAGE, object: 'lab up', field, message, fix });
  const parsed = parseCidr(o.cidr);
  if (parsed?.cidr.family !== 4)
    throw usage('--external-cidr', `${o.cidr} is not an IPv4 CIDR`, 'e.g. 192.168.230.0/24');
  for (const [taken, what] of [
    [UNDERLAY_SUBNET, 'the underlay (node addresses)'],
    [POD_RANGE, 'the pod addresses'],
  ] as const) {
    const other = parseCidr(taken)?.cidr;
    if (other && cidrOverlaps(parsed.cidr, other))
      throw usage(
        '--external-cidr',
        `${o.cidr} overlaps ${taken}, ${what}`,
        'choose another range',
      );
  }
  if (!nodeNames.includes(o.via))
    throw usage(
      '--external-via',
      `${o.via} is not a node of this lab`,
      `name one of: ${nodeNames.join(', ')}`,
    );
  return { cidr: formatCidr(parsed.cidr), via: o.via };
}

export function externalNetns(p: LabPaths): string {
  return `${p.netnsPrefix}external`;
}

/** The external host's namespace, joined to the underlay bridge, addressed and routed. */
export async function createExternal(
  p: LabPaths,
  underlay: string,
  o: ExternalOptions,
  via: LabNode,
): Promise<LabExternal> {
  const netns = externalNetns(p);
  await run('ip', ['netns', 'add', netns]);
  await run('ip', [
    ...['-n', underlay, 'link', 'add', 'ext', 'type', 'veth'],
    ...['peer', 'name', 'eth0', 'netns', netns],
  ]);
  await run(
    'ip',
    ['-n', underlay, '-batch', '-'],
    `link set ext master ${UNDERLAY_BRIDGE}\nlink set ext up\n`,
  );
  await run(
    'ip',
    ['-n', netns, '-batch', '-'],
    [
      'link set lo up',
      'link set eth0 up',
      `addr add ${EXTERNAL_ADDRESS}/24 dev eth0`,
      `route add ${o.cidr} via ${via.address} dev eth0`,
      '',
    ].join('\n'),
  );
  return { netns, address: EXTERNAL_ADDRESS, cidr: o.cidr, via: via.name, viaAddress: via.address };
}

/** The underlay as `weft lab status` shows it: where to watch what crosses between hosts. */
export function underlayView(state: LabState): {
  netns: string;
  bridge: string;
  subnet: string;
} {
  return { netns: state.underlay, bridge: UNDERLAY_BRIDGE, subnet: UNDERLAY_SUBNET };
}

/** The external host as `weft lab status` shows it; undefined for a lab that has none. */
export function externalView(state: LabState):
  | {
      netns: string;
      interface: string;
      address: string;
      routes: { to: string; via: string; node: string }[];
    }
  | undefined {
  const e = state.external;
  if (!e) return undefined;
  return {
    netns: e.netns,
    interface: 'eth0',
    address: e.address,
    routes: [{ to: e.cidr, via: e.viaAddress, node: e.via }],
  };
}
