/**
 * weft-cni: the binary the container runtime executes for the `weft` network.
 *
 * A thin shim. It answers VERSION itself; every other command (env + stdin) is
 * forwarded to the node agent's unix socket (POST /v1/cni) and the agent's
 * answer is printed verbatim with its exit code. When the agent cannot be
 * reached, STATUS fails with code 50 (plugin not available) and ADD, CHECK
 * and GC with code 11 (try again later), so the runtime retries.
 *
 * DEL with no agent listening (no socket, or nothing behind it) succeeds, as
 * the spec asks of a DEL whose resources may be gone: after an uninstall no
 * agent comes back, and failing would block every pod's teardown forever.
 * Nothing leaks: the runtime then deletes the pod's namespace, which takes
 * the veth with it, and an agent that starts again releases every address
 * whose interface is gone (EndpointManager.reconcile). An agent that is
 * there but slow still gets error 11.
 *
 * Socket: env WEFT_CNI_SOCKET, else the config's `agentSocket`, else
 * /run/weft/cni.sock. Timeout: env WEFT_CNI_TIMEOUT_MS (default 60000).
 *
 * Imports only node built-ins, the pure src/core/cni modules and the agent
 * API's client (src/api): it is bundled into one small file
 * (dist/weft-cni.js) that starts fast.
 */
import { AgentApiError, AgentClient, type ApiFailure } from '../api/client.js';
import { AgentRoutes } from '../api/routes.js';
import { CniError, CniErrorCodes } from '../core/cni/errors.js';
import { Limits, sizeText } from '../core/limits.js';
import { DEFAULT_AGENT_SOCKET } from '../core/cni/netconf.js';
import { CNI_COMMANDS, isCniCommand, type CniCommand } from '../core/cni/request.js';
import {
  CURRENT_VERSION,
  isSupportedVersion,
  SUPPORTED_VERSIONS,
  versionResult,
} from '../core/cni/result.js';
import { cniEnv, cniErrorResponse, type CniWireResponse } from '../core/cni/wire.js';

const SOCKET_ENV = 'WEFT_CNI_SOCKET';
const TIMEOUT_ENV = 'WEFT_CNI_TIMEOUT_MS';
const DEFAULT_TIMEOUT_MS = 60_000;

type Env = Readonly<Record<string, string | undefined>>;

/** The two config fields the shim needs, read loosely: validating is the agent's job. */
interface Peek {
  readonly cniVersion: string;
  readonly agentSocket: string | undefined;
}

function peekConfig(stdin: string): Peek {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch {
    return { cniVersion: CURRENT_VERSION, agentSocket: undefined };
  }
  const o = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const version = o['cniVersion'];
  const socket = o['agentSocket'];
  return {
    cniVersion:
      typeof version === 'string' && isSupportedVersion(version) ? version : CURRENT_VERSION,
    agentSocket: typeof socket === 'string' ? socket : undefined,
  };
}

function agentSocket(env: Env, peek: Peek): string {
  return env[SOCKET_ENV] || peek.agentSocket || DEFAULT_AGENT_SOCKET;
}

function timeoutMs(env: Env): number {
  const text = env[TIMEOUT_ENV];
  if (text === undefined || text === '') return DEFAULT_TIMEOUT_MS;
  const ms = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(ms) || ms === 0) {
    throw new CniError(
      CniErrorCodes.INVALID_ENVIRONMENT,
      `${TIMEOUT_ENV} "${text}" is invalid`,
      'it must be a whole number of milliseconds greater than 0',
    );
  }
  return ms;
}

function checkCommand(text: string | undefined): CniCommand {
  if (text !== undefined && isCniCommand(text)) return text;
  if (text === undefined || text === '') {
    process.stderr.write(
      `weft-cni: the CNI plugin of the weft network; the container runtime runs it.\n` +
        `CNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`,
    );
  }
  throw new CniError(
    CniErrorCodes.INVALID_ENVIRONMENT,
    text ? `CNI_COMMAND ${JSON.stringify(text)} is unknown` : 'CNI_COMMAND is not set',
    `weft supports ${CNI_COMMANDS.join(', ')}`,
  );
}

/** No socket file, or no process behind it: no agent at all (not a slow one). */
function nobodyListening(f: ApiFailure): boolean {
  return f.kind === 'unreachable' && (f.code === 'ENOENT' || f.code === 'ECONNREFUSED');
}

function unreachable(command: CniCommand, socket: string, e: AgentApiError): CniError {
  const code =
    command === 'STATUS' ? CniErrorCodes.PLUGIN_NOT_AVAILABLE : CniErrorCodes.TRY_AGAIN_LATER;
  return new CniError(
    code,
    `the weft agent at ${socket} is not reachable: ${e.message}`,
    'weft-cni forwards every CNI command to the weft agent on this node; is the agent running?',
  );
}

function httpFailure(command: CniCommand, socket: string, status: number, body: string): CniError {
  const code =
    command === 'STATUS'
      ? CniErrorCodes.PLUGIN_NOT_AVAILABLE
      : status === 503
        ? CniErrorCodes.TRY_AGAIN_LATER
        : CniErrorCodes.IO_ERROR;
  return new CniError(
    code,
    `the weft agent at ${socket} answered HTTP ${status} to ${AgentRoutes.cni.path}`,
    body.slice(0, 500),
  );
}

/** What went wrong asking the agent, as the CNI error the runtime acts on. */
function cniFailure(command: CniCommand, socket: string, e: AgentApiError): CniError {
  const f = e.failure;
  switch (f.kind) {
    case 'status':
      return httpFailure(command, socket, f.status, f.body);
    case 'invalid':
      return new CniError(CniErrorCodes.DECODE_ERROR, e.message);
    case 'too-large':
      return new CniError(CniErrorCodes.IO_ERROR, e.message);
    case 'unreachable':
    case 'timeout':
    case 'closed':
      return unreachable(command, socket, e);
  }
}

async function forward(
  command: CniCommand,
  env: Env,
  stdin: string,
  peek: Peek,
): Promise<CniWireResponse> {
  const socket = agentSocket(env, peek);
  const agent = new AgentClient({ kind: 'unix', node: 'local', socket }, timeoutMs(env));
  try {
    return await agent.cni({ env: cniEnv(env), stdin });
  } catch (e) {
    if (!(e instanceof AgentApiError)) throw e;
    if (command === 'DEL' && nobodyListening(e.failure)) {
      process.stderr.write(
        `weft-cni: no weft agent at ${socket}; DEL succeeds (the agent releases leftovers when it starts)\n`,
      );
      return { exitCode: 0, stdout: '' };
    }
    throw cniFailure(command, socket, e);
  }
}

/** What to print and the exit code, for one invocation. Never throws. */
async function runShim(env: Env, stdin: string): Promise<CniWireResponse> {
  const peek = peekConfig(stdin);
  try {
    const command = checkCommand(env['CNI_COMMAND']);
    if (command === 'VERSION')
      return { exitCode: 0, stdout: JSON.stringify(versionResult(peek.cniVersion)) };
    return await forward(command, env, stdin, peek);
  } catch (e) {
    const err =
      e instanceof CniError
        ? e
        : new CniError(
            CniErrorCodes.IO_ERROR,
            'weft-cni failed',
            e instanceof Error ? e.message : String(e),
          );
    return cniErrorResponse(err, peek.cniVersion);
  }
}

/** stdin, up to the limit; past it, an error 7 that names the limit (nothing more is read). */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > Limits.cniStdinBytes) {
      process.stdin.destroy();
      throw new CniError(
        CniErrorCodes.INVALID_NETWORK_CONFIG,
        `the network config on stdin is larger than weft reads (${sizeText(Limits.cniStdinBytes)})`,
        'the config the runtime sends is the plugin entry of the conflist and its prevResult; check what writes it',
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  let res: CniWireResponse;
  try {
    res = await runShim(process.env, await readStdin());
  } catch (e) {
    const err =
      e instanceof CniError
        ? e
        : new CniError(
            CniErrorCodes.IO_ERROR,
            'weft-cni could not read stdin',
            e instanceof Error ? e.message : String(e),
          );
    res = cniErrorResponse(err, CURRENT_VERSION);
  }
  process.stdout.write(res.stdout);
  process.exitCode = res.exitCode;
}

await main();
