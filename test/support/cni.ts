import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../src/testing/paths.js';

export interface CniCall {
  readonly command: string;
  readonly containerId?: string;
  readonly netns?: string;
  readonly ifname?: string;
  readonly args?: string;
  /** The network configuration on stdin: an object (serialized) or raw text. */
  readonly config?: unknown;
  /** Extra or overriding environment. */
  readonly env?: Record<string, string>;
}

export interface CniOutcome {
  readonly code: number;
  readonly stdout: string;
  /** stdout parsed as JSON, when it is JSON. */
  readonly json?: Record<string, unknown>;
}

export function netconf(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.1.0', name: 'weft', type: 'weft', ...extra };
}

/** Executes the bundled weft-cni exactly as containerd does: CNI_* environment plus the config on stdin. */
export function cni(socket: string, call: CniCall): Promise<CniOutcome> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    CNI_COMMAND: call.command,
    CNI_PATH: '/opt/cni/bin',
    WEFT_CNI_SOCKET: socket,
    ...(call.containerId !== undefined ? { CNI_CONTAINERID: call.containerId } : {}),
    ...(call.netns !== undefined ? { CNI_NETNS: call.netns } : {}),
    ...(call.ifname !== undefined ? { CNI_IFNAME: call.ifname } : {}),
    ...(call.args !== undefined ? { CNI_ARGS: call.args } : {}),
    ...call.env,
  };
  const stdin =
    call.config === undefined
      ? JSON.stringify(netconf())
      : typeof call.config === 'string'
        ? call.config
        : JSON.stringify(call.config);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot(), 'dist/weft-cni.js')], {
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, ...(json ? { json } : {}) });
    });
    child.stdin.end(stdin);
  });
}
