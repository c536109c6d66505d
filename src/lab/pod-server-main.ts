// `weft lab pod-server`: the process the lab runs inside every pod namespace.
// Thirty of these start at once, so this file imports node built-ins and the
// pod server only.
import { parseArgs } from 'node:util';
import { startPodServer, type DeclaredPort } from './pod-server.js';
import type { PortProtocol } from './probe-client.js';

export const POD_SERVER_HELP = `usage: weft lab pod-server --control PATH [--hostname NAME] [--port PORT[/PROTOCOL]]...

Runs a pod's test server (started by \`weft lab\` inside each pod namespace).
On every --port number, over both TCP and UDP, IPv4 and IPv6 (SCTP ports are
reported as not served), it answers agnhost netexec's HTTP GET /hostname and
GET /clientip and UDP datagrams hostname and clientip, and echoes anything
else. It answers an HTTP API on the unix socket --control: GET /healthz,
POST /probe (connect from inside the pod), POST /shutdown. Prints "ready"
once listening; runs until SIGTERM, SIGINT or POST /shutdown.

options:
  --control PATH          the control socket (required)
  --hostname NAME         what hostname answers (default: this machine's hostname)
  --port PORT[/PROTOCOL]  a container port, e.g. 80/TCP, 53/UDP (default TCP); repeatable
  -h, --help              this text`;

export interface PodServerIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** A mistake in the command line: its message and how to fix it. */
class Usage extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

export async function podServerCommand(args: string[], io: PodServerIo): Promise<number> {
  let control: string;
  let hostname: string | undefined;
  let ports: DeclaredPort[];
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        control: { type: 'string' },
        hostname: { type: 'string' },
        port: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.out(POD_SERVER_HELP);
      return 0;
    }
    if (!values.control)
      throw new Usage(
        '--control is required',
        'pass the control socket, e.g. --control /run/p.sock',
      );
    control = values.control;
    hostname = values.hostname === undefined ? undefined : hostnameFlag(values.hostname);
    ports = (values.port ?? []).map(portFlag);
  } catch (e) {
    const fix = e instanceof Usage ? e.fix : 'see weft lab pod-server --help';
    io.err(`weft: ${e instanceof Error ? e.message : String(e)}\n  fix: ${fix}`);
    return 2;
  }

  // Handled from the start: a SIGTERM during startup still ends in a clean close.
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
  let onSignal = (): void => undefined;
  const signalled = new Promise<void>((resolve) => (onSignal = resolve));
  for (const s of signals) process.on(s, onSignal);
  try {
    const server = await startPodServer({ control, ports, ...(hostname ? { hostname } : {}) });
    io.out('ready');
    await Promise.race([signalled, server.closed]);
    await server.close();
    return 0;
  } catch (e) {
    io.err(`weft: lab pod-server: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
}

/** `80`, `80/TCP`, `53/udp`, `9/SCTP`. */
function portFlag(text: string): DeclaredPort {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(text);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535)
    throw new Usage(`--port ${text}: not a port`, 'use PORT[/PROTOCOL], e.g. --port 80/TCP');
  return { port, protocol: (m[2]?.toUpperCase() ?? 'TCP') as PortProtocol };
}

/** A DNS name, as a pod's hostname is: letters, digits, dashes and dots, at most 253. */
function hostnameFlag(text: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(text))
    throw new Usage(
      `--hostname ${JSON.stringify(text)}: not a hostname`,
      'use letters, digits, dashes and dots (at most 253), e.g. --hostname web-0',
    );
  return text;
}
