import { ErrorCodes, WeftError, errorCode, formatIssue } from '../core/errors.js';
import { UsageError } from './output.js';
import { VERSION } from '../version.js';

export interface Io {
  /** A line (or lines) of output; a newline is added. */
  readonly out: (text: string) => void;
  /** Raw output, exactly as given (for streamed output). */
  readonly write: (chunk: string) => void;
  readonly err: (text: string) => void;
}

type Command = (args: string[], io: Io) => Promise<number>;

// Commands load their modules on first use: a pod server or the agent starts
// without reading the policy compiler, and the other way round.
const COMMANDS: Record<string, { summary: string; run: Command }> = {
  policy: {
    summary: 'trace, matrix and lint network policies from manifests',
    run: async (a, io) => (await import('./policy.js')).policyCommand(a, io),
  },
  service: {
    summary: 'Services: frontends, endpoints, and where a packet to one goes',
    run: async (a, io) => (await import('./service.js')).serviceCommand(a, io),
  },
  lab: {
    summary: 'a whole cluster on this machine, in network namespaces',
    run: async (a, io) =>
      // The pod server runs thirty at a time: it loads nothing of the lab's controller.
      a[0] === 'pod-server'
        ? (await import('../lab/pod-server-main.js')).podServerCommand(a.slice(1), io)
        : (await import('./lab.js')).labCommand(a, io),
  },
  agent: {
    summary: 'run the node agent (CNI socket, endpoints, IPAM)',
    run: async (a, io) => (await import('./agent.js')).agentCommand(a, io),
  },
  observe: {
    summary: 'flows with their verdict and the policy that decided, from every agent',
    run: async (a, io) => (await import('./observe.js')).observeCommand(a, io),
  },
  status: {
    summary: "agents' health, last sync, rule counts and flows lost",
    run: async (a, io) => (await import('./observe.js')).statusCommand(a, io),
  },
  endpoints: {
    summary: "each node's pods: addresses, labels, isolation and its policies",
    run: async (a, io) => (await import('./observe.js')).endpointsCommand(a, io),
  },
  cni: {
    summary: 'print the CNI network configuration list',
    run: async (a, io) => (await import('./agent.js')).cniCommand(a, io),
  },
  ui: {
    summary: 'a web page: live service map, flow table, policy view',
    run: async (a, io) => (await import('./ui.js')).uiCommand(a, io),
  },
  version: { summary: 'print the version', run: async (_a, io) => (io.out(VERSION), 0) },
};

export function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    'usage: weft COMMAND [ARGS...]',
    '',
    'commands:',
    ...rows,
    '',
    'Run `weft COMMAND --help` for details.',
  ].join('\n');
}

/** Runs one weft command line; returns the exit code. Never throws. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command)
      throw new UsageError(
        `unknown command ${JSON.stringify(name)}`,
        `run one of: ${Object.keys(COMMANDS).join(', ')}`,
      );
    return await command.run(rest, io);
  } catch (e) {
    return reportError(e, io);
  }
}

export function reportError(e: unknown, io: Io): number {
  if (e instanceof UsageError) {
    io.err(`weft: ${e.message}\n  fix: ${e.fix}`);
    return 2;
  }
  if (e instanceof WeftError) {
    io.err(e.issues.map((i) => `weft: ${formatIssue(i)}`).join('\n'));
    return e.code === ErrorCodes.USAGE ? 2 : 1;
  }
  if (
    e instanceof Error &&
    'code' in e &&
    typeof e.code === 'string' &&
    e.code.startsWith('ERR_PARSE_ARGS')
  ) {
    io.err(`weft: ${e.message}\n  fix: see --help`);
    return 2;
  }
  const code = errorCode(e);
  const what = e instanceof Error ? (e.stack ?? e.message) : String(e);
  io.err(`weft: internal error${code ? ` [${code}]` : ''}: ${what}`);
  return 70;
}
