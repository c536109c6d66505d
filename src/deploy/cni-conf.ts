/**
 * weft's CNI config on a node, written and removed by the DaemonSet's agent
 * container (deploy/helm/weft/templates/daemonset.yaml):
 *
 *   node dist/deploy/cni-conf.js install --conf-dir DIR [--socket PATH] [--mtu N]
 *        [--timeout-seconds S]
 *     postStart hook: waits until the agent answers ready on its socket, then
 *     writes DIR/10-weft.conflist atomically. Until then the node has no weft
 *     config, so the runtime sends no pod to an agent that cannot serve it.
 *
 *   node dist/deploy/cni-conf.js remove-if-uninstalled --conf-dir DIR
 *        --daemonset NAMESPACE/NAME [--api-server URL]
 *     preStop hook: removes DIR/10-weft.conflist only when weft is being
 *     uninstalled (see lifecycle.ts); a rolling upgrade keeps it.
 *
 * Exit codes: 0 done (including "kept"), 1 failed, 2 bad arguments.
 */
import { readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AgentClient } from '../api/client.js';
import { AgentRoutes } from '../api/routes.js';
import { CONFLIST_FILE, weftConflist } from '../core/cni/conflist.js';
import { DEFAULT_AGENT_SOCKET, MAX_MTU, MIN_MTU } from '../core/cni/netconf.js';
import {
  daemonSetPath,
  decideOnStop,
  parseDaemonSetRef,
  type ApiAnswer,
  type DaemonSetRef,
} from './lifecycle.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const API_TIMEOUT_MS = 5000;
const POLL_MS = 1000;

class Usage extends Error {}

type Log = (line: string) => void;

export async function main(argv: readonly string[], log: Log): Promise<number> {
  const [verb, ...args] = argv;
  try {
    if (verb === 'install') return await install(args, log);
    if (verb === 'remove-if-uninstalled') return await removeIfUninstalled(args, log);
    throw new Usage(
      `unknown verb ${JSON.stringify(verb ?? '')}: use install or remove-if-uninstalled`,
    );
  } catch (e) {
    if (e instanceof Usage || (e instanceof TypeError && 'code' in e)) {
      log(`cni-conf: ${e.message}`);
      return 2;
    }
    log(`cni-conf: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

async function install(args: string[], log: Log): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      'conf-dir': { type: 'string' },
      socket: { type: 'string', default: DEFAULT_AGENT_SOCKET },
      mtu: { type: 'string' },
      'timeout-seconds': { type: 'string', default: '300' },
    },
  });
  const confDir = required(values['conf-dir'], '--conf-dir');
  const timeout = positiveInt(values['timeout-seconds'], '--timeout-seconds');
  const mtu = values.mtu === undefined ? undefined : positiveInt(values.mtu, '--mtu');
  if (mtu !== undefined && (mtu < MIN_MTU || mtu > MAX_MTU))
    throw new Usage(`--mtu ${mtu}: not an MTU; use ${MIN_MTU}-${MAX_MTU}`);
  // Built (and so checked) before waiting: a bad --mtu fails now, not in five minutes.
  const conflist = weftConflist({
    ...(mtu ? { mtu } : {}),
    ...(values.socket !== DEFAULT_AGENT_SOCKET ? { agentSocket: values.socket } : {}),
  });
  const deadline = Date.now() + timeout * 1000;
  let last = 'no answer yet';
  for (;;) {
    const status = await agentStatus(values.socket);
    if (status.ready) break;
    last = status.message;
    if (Date.now() >= deadline) {
      log(`cni-conf: agent not ready after ${timeout}s (${last}); CNI config not written`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const path = join(confDir, CONFLIST_FILE);
  const temp = join(confDir, `.${CONFLIST_FILE}.tmp`);
  await writeFile(temp, `${JSON.stringify(conflist, null, 2)}\n`, { mode: 0o644 });
  await rename(temp, path);
  log(`cni-conf: agent ready; wrote ${path}`);
  return 0;
}

async function removeIfUninstalled(args: string[], log: Log): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      'conf-dir': { type: 'string' },
      daemonset: { type: 'string' },
      'api-server': { type: 'string' },
      'token-file': { type: 'string', default: `${SA_DIR}/token` },
      'ca-file': { type: 'string', default: `${SA_DIR}/ca.crt` },
    },
  });
  const confDir = required(values['conf-dir'], '--conf-dir');
  const refText = required(values.daemonset, '--daemonset');
  const ref = parseDaemonSetRef(refText);
  if (!ref) throw new Usage(`--daemonset ${refText}: not NAMESPACE/NAME, e.g. kube-system/weft`);
  const answer = await getDaemonSet(ref, {
    apiServer: values['api-server'] ?? inClusterApiServer(),
    tokenFile: values['token-file'],
    caFile: values['ca-file'],
  });
  const decision = decideOnStop(answer, ref);
  if (decision.action === 'keep') {
    log(`cni-conf: ${decision.reason} ${join(confDir, CONFLIST_FILE)}`);
    return 0;
  }
  const path = join(confDir, CONFLIST_FILE);
  await rm(path, { force: true });
  log(`cni-conf: ${decision.reason}; removed ${path}`);
  return 0;
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new Usage(`${flag} is required`);
  return value;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Usage(`${flag} ${text}: not a positive integer`);
  return n;
}

function inClusterApiServer(): string {
  const host = process.env['KUBERNETES_SERVICE_HOST'];
  const port = process.env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (!host) return '';
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The agent's status on its unix socket: `{ready, message}`, or not ready with why. */
async function agentStatus(socket: string): Promise<{ ready: boolean; message: string }> {
  const agent = new AgentClient({ kind: 'unix', node: 'local', socket }, API_TIMEOUT_MS);
  try {
    const s = await agent.get(AgentRoutes.status);
    return { ready: s.ready, message: s.message ?? 'not ready' };
  } catch (e) {
    return { ready: false, message: `${socket}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

interface ApiClient {
  readonly apiServer: string;
  readonly tokenFile: string;
  readonly caFile: string;
}

function getDaemonSet(ref: DaemonSetRef, c: ApiClient): Promise<ApiAnswer> {
  if (!c.apiServer)
    return Promise.resolve({ kind: 'unreachable', message: 'KUBERNETES_SERVICE_HOST is not set' });
  let url: URL;
  let token: string;
  let ca: string | undefined;
  try {
    url = new URL(daemonSetPath(ref), c.apiServer);
    token = readFileSync(c.tokenFile, 'utf8').trim();
    ca = url.protocol === 'https:' ? readFileSync(c.caFile, 'utf8') : undefined;
  } catch (e) {
    return Promise.resolve({ kind: 'unreachable', message: (e as Error).message });
  }
  return new Promise((resolve) => {
    const options = {
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      timeout: API_TIMEOUT_MS,
      ...(ca ? { ca } : {}),
    };
    const done = (res: IncomingMessage) =>
      void readBody(res).then((body) =>
        resolve({ kind: 'http', status: res.statusCode ?? 0, body }),
      );
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, options, done)
        : httpRequest(url, options, done);
    req.on('timeout', () => req.destroy(new Error(`no answer in ${API_TIMEOUT_MS} ms`)));
    req.on('error', (e) => resolve({ kind: 'unreachable', message: e.message }));
    req.end();
  });
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (body.length < 1 << 20) body += chunk;
    });
    res.on('end', () => resolve(body));
    res.on('error', () => resolve(body));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), (line) => process.stderr.write(`${line}\n`));
}
