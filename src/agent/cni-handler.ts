import { ErrorCodes, WeftError } from '../core/errors.js';
import { CniError, CniErrorCodes, WeftCniCodes, cniErrorJson } from '../core/cni/errors.js';
import { parseCniRequest, type CniRequest } from '../core/cni/request.js';
import { resultForVersion, versionResult, type CniResult } from '../core/cni/result.js';
import type { CniWireResponse } from '../core/cni/wire.js';
import { checkEndpoint } from './check.js';
import type { EndpointRecord, PodRef } from '../api/types.js';
import { EndpointError, GATEWAY4, GATEWAY6, type EndpointManager } from './endpoints.js';
import { ExecError } from '../host/exec.js';

/** The CNI verbs, each a handler; all logic of the weft-cni shim lives here, in the agent. */
export class CniHandler {
  constructor(
    private readonly endpoints: EndpointManager,
    private readonly ready: () => boolean,
  ) {}

  async handle(env: Record<string, string>, stdin: string): Promise<CniWireResponse> {
    let version = '1.1.0';
    try {
      const req = parseCniRequest(env, stdin);
      if ('config' in req) version = req.config.cniVersion;
      return { exitCode: 0, stdout: await this.dispatch(req) };
    } catch (e) {
      return { exitCode: 1, stdout: cniErrorJson(toCniError(e), version) };
    }
  }

  private async dispatch(req: CniRequest): Promise<string> {
    switch (req.command) {
      case 'VERSION':
        return JSON.stringify(versionResult(req.cniVersion));
      case 'STATUS':
        if (!this.ready())
          throw new CniError(CniErrorCodes.PLUGIN_NOT_AVAILABLE, 'the weft agent is starting');
        return '';
      case 'ADD': {
        this.requireReady();
        const owner = { containerId: req.containerId, ifname: req.ifname };
        const opts = {
          ...(podOf(req.args) ? { pod: podOf(req.args) as PodRef } : {}),
          ...(req.config.mtu ? { mtu: req.config.mtu } : {}),
        };
        const record = await this.endpoints.add(owner, req.netns, opts);
        return JSON.stringify(resultForVersion(resultOf(record), req.config.cniVersion));
      }
      case 'DEL':
        await this.endpoints.del({ containerId: req.containerId, ifname: req.ifname });
        return '';
      case 'CHECK': {
        const record = await this.endpoints.get({
          containerId: req.containerId,
          ifname: req.ifname,
        });
        if (!record) {
          throw new CniError(
            CniErrorCodes.UNKNOWN_CONTAINER,
            `weft has no endpoint for container ${req.containerId} interface ${req.ifname}`,
          );
        }
        const expected = req.prevResult.ips?.map((i) => i.address);
        const problems = await checkEndpoint(record, expected);
        if (problems.length > 0)
          throw new CniError(
            WeftCniCodes.CHECK_FAILED,
            `CHECK failed: ${problems[0]}`,
            problems.join('; '),
          );
        return '';
      }
      case 'GC':
        this.requireReady();
        await this.endpoints.gc(req.validAttachments);
        return '';
    }
  }

  private requireReady(): void {
    if (!this.ready())
      throw new CniError(
        CniErrorCodes.TRY_AGAIN_LATER,
        'the weft agent is not ready yet',
        'retry in a moment',
      );
  }
}

function podOf(args: Readonly<Record<string, string>>): PodRef | undefined {
  const namespace = args['K8S_POD_NAMESPACE'];
  const name = args['K8S_POD_NAME'];
  if (!namespace || !name) return undefined;
  const uid = args['K8S_POD_UID'];
  return { namespace, name, ...(uid ? { uid } : {}) };
}

/** The ADD result: the host veth, the pod interface (index 1) and its addresses. */
export function resultOf(r: EndpointRecord): CniResult {
  const v6 = r.addresses.some((a) => a.includes(':'));
  const v4 = r.addresses.some((a) => !a.includes(':'));
  return {
    interfaces: [
      { name: r.hostIfname, mac: r.hostMac, mtu: r.mtu },
      { name: r.ifname, mac: r.podMac, mtu: r.mtu, sandbox: r.netns },
    ],
    ips: r.addresses.map((address) => ({
      address,
      gateway: address.includes(':') ? GATEWAY6 : GATEWAY4,
      interface: 1,
    })),
    routes: [
      ...(v4 ? [{ dst: '0.0.0.0/0', gw: GATEWAY4 }] : []),
      ...(v6 ? [{ dst: '::/0', gw: GATEWAY6 }] : []),
    ],
  };
}

function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof EndpointError) return new CniError(e.code, e.message, e.details);
  if (e instanceof WeftError && e.code === ErrorCodes.ADDRESS) {
    return new CniError(
      WeftCniCodes.ADDRESSES_EXHAUSTED,
      e.message,
      'free addresses (delete pods) or give the node a larger pod CIDR',
    );
  }
  if (e instanceof ExecError)
    return new CniError(
      CniErrorCodes.IO_ERROR,
      `the kernel refused a change: ${e.message}`,
      e.stderr.trim(),
    );
  return new CniError(
    WeftCniCodes.INTERNAL,
    `internal error: ${e instanceof Error ? e.message : String(e)}`,
  );
}
