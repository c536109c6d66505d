import { formatIp } from '../core/net/ip.js';
import type { Service } from '../core/model/service-types.js';
import { podKey, type Cluster } from '../core/model/types.js';
import { parseProbe } from '../core/policy/matrix-report.js';
import { buildServiceModel } from '../core/services/model.js';
import { ignoreText } from '../core/services/trace.js';
import { closest, listText } from '../core/text.js';
import {
  labServiceProbe,
  type ServiceProbeResult,
  type ServiceProbeTarget,
} from '../lab/probe-service.js';
import type { LabState } from '../lab/state.js';
import type { Io } from './main.js';
import { table, UsageError } from './output.js';
import { findPod } from './pods.js';
import { completed } from './clusters.js';
import { serviceList, type ServiceJson } from './service-view.js';
import { formatIssue, WeftError } from '../core/errors.js';
import type { Lab } from '../lab/lab.js';

/** `weft lab probe --to-service NS/NAME`: real connections to the Service's ClusterIP ports. */

export interface ServiceProbeOptions {
  readonly service: string;
  readonly from?: string;
  readonly ports: readonly string[];
  readonly timeoutMs: number;
}

/** The Service `text` (`ns/name`, or `name` in default) names; a usage error naming what there is. */
function findService(cluster: Cluster, text: string, lab: string): Service {
  const key = text.includes('/') ? text : `default/${text}`;
  const s = cluster.services.find((x) => `${x.namespace}/${x.name}` === key);
  if (s) return s;
  const keys = cluster.services.map((x) => `${x.namespace}/${x.name}`);
  const name = key.slice(key.indexOf('/') + 1);
  const near = keys.filter((k) => k.endsWith(`/${name}`))[0] ?? closest(key, keys, 3);
  throw new UsageError(
    `--to-service ${text}: no such Service in lab ${lab}`,
    near
      ? `did you mean ${near}?`
      : keys.length > 0
        ? `name one of: ${listText(keys, 8)}`
        : 'the lab has no Service: weft lab apply -f a file with one',
  );
}

/** The ClusterIP ports to probe: every TCP and UDP port, or those `--port` names. */
function targetsOf(
  cluster: Cluster,
  s: Service,
  ports: readonly string[],
  io: Io,
): ServiceProbeTarget[] {
  const key = `${s.namespace}/${s.name}`;
  const ignored = buildServiceModel(cluster, '').ignored.find(
    (x) => x.namespace === s.namespace && x.name === s.name,
  );
  if (ignored || s.clusterIps.kind !== 'set')
    throw new UsageError(
      `--to-service ${key}: it has no ClusterIP to probe (${ignored ? ignoreText(ignored) : 'none allocated'})`,
      s.type === 'ExternalName'
        ? `it is the DNS name ${s.externalName ?? ''}: nothing in the lab answers for it`
        : 'probe its pods instead: weft lab probe --to NS/POD',
    );
  const wanted = ports.map(parseProbe);
  for (const w of wanted)
    if (!s.ports.some((p) => p.port === w.port && p.protocol === w.protocol))
      throw new UsageError(
        `--port ${w.port}/${w.protocol}: Service ${key} has no such port`,
        `its ports: ${s.ports.map((p) => `${p.port}/${p.protocol}`).join(', ')}`,
      );
  const chosen = s.ports.filter(
    (p) =>
      wanted.length === 0 || wanted.some((w) => w.port === p.port && w.protocol === p.protocol),
  );
  const sctp = chosen.filter((p) => p.protocol === 'SCTP');
  if (sctp.length > 0)
    io.err(
      `not probed: ${sctp.map((p) => `${p.port}/SCTP`).join(', ')} (this kernel has no SCTP sockets)`,
    );
  return s.clusterIps.ips.flatMap((ip) =>
    chosen.flatMap((p) =>
      p.protocol === 'SCTP'
        ? []
        : [{ name: p.name, port: p.port, protocol: p.protocol, clusterIp: formatIp(ip) }],
    ),
  );
}

export async function probeService(
  state: LabState,
  cluster: Cluster,
  o: ServiceProbeOptions,
  format: 'table' | 'json',
  io: Io,
): Promise<number> {
  const s = findService(cluster, o.service, state.name);
  const targets = targetsOf(cluster, s, o.ports, io);
  if (targets.length === 0)
    throw new UsageError(
      `--to-service ${o.service}: no TCP or UDP port to probe`,
      'see its ports with weft service list',
    );
  const running = cluster.pods.map(podKey).filter((k) => state.pods[k]);
  const from = o.from === undefined ? running : [runningPod(cluster, state, o.from, '--from')];
  const results = await labServiceProbe(state, from, targets, o.timeoutMs);
  const key = `${s.namespace}/${s.name}`;
  if (format === 'json') {
    io.out(JSON.stringify(serviceProbeJson(key, s, results), null, 2));
    return 0;
  }
  const ips = s.clusterIps.kind === 'set' ? s.clusterIps.ips.map(formatIp).join(', ') : '';
  io.out(
    `Service ${key}, ClusterIP ${ips}: real connections from ${from.length} pod${from.length === 1 ? '' : 's'} (timeout ${o.timeoutMs} ms)`,
  );
  io.out(
    table(
      ['FROM', 'SERVICE PORT', 'RESULT', 'TIME'],
      results.map((r) => [r.from, targetText(r.target), resultText(r), `${r.ms} ms`]),
    ),
  );
  const t = targets[0] as ServiceProbeTarget;
  io.out(
    `\nwhat the Service proxy is to do with them: weft service trace --lab ${state.name} --from POD --to ${t.clusterIp}:${t.port}/${t.protocol}`,
  );
  return 0;
}

/** The running pod a flag names (`ns/pod`); a usage error with the near name otherwise. */
export function runningPod(cluster: Cluster, state: LabState, text: string, flag: string): string {
  const key = podKey(findPod(cluster, text, flag, `in lab ${state.name}`));
  if (!state.pods[key])
    throw new UsageError(
      `${flag} ${text}: pod ${key} is not running in lab ${state.name}`,
      'see weft lab status',
    );
  return key;
}

/**
 * The lab's Services for `weft lab status`, as `weft service list` gives
 * them; when they cannot be (two Services on one ClusterIP), none, with
 * the reason on stderr (and `weft lab status` exits 1).
 */
export async function labServices(
  lab: Lab,
  io: Io,
): Promise<{ list: readonly ServiceJson[]; shown: boolean }> {
  try {
    return { list: serviceList(completed(await lab.cluster())).services, shown: true };
  } catch (e) {
    if (!(e instanceof WeftError)) throw e;
    io.err(e.issues.map((i) => `weft: Services not shown: ${formatIssue(i)}`).join('\n'));
    return { list: [], shown: false };
  }
}

function targetText(t: ServiceProbeTarget): string {
  return `${t.name ? `${t.name} ` : ''}${t.clusterIp}:${t.port}/${t.protocol}`;
}

function resultText(r: ServiceProbeResult): string {
  switch (r.outcome) {
    case 'connected':
      return 'connected';
    case 'refused':
      return 'refused (TCP reset or ICMP port unreachable)';
    case 'timeout':
      return 'no answer (timeout)';
    case 'error':
      return `failed: ${r.error ?? 'unknown error'}`;
  }
}

/** `weft lab probe --to-service ... -o json`, documented in docs/services.md. */
function serviceProbeJson(
  key: string,
  s: Service,
  results: readonly ServiceProbeResult[],
): Record<string, unknown> {
  return {
    service: key,
    clusterIPs: s.clusterIps.kind === 'set' ? s.clusterIps.ips.map(formatIp) : [],
    probes: results.map((r) => ({
      from: r.from,
      port: r.target.name,
      servicePort: r.target.port,
      protocol: r.target.protocol,
      clusterIP: r.target.clusterIp,
      outcome: r.outcome,
      ms: r.ms,
      ...(r.error !== undefined ? { error: r.error } : {}),
    })),
  };
}
