/**
 * The services table of one node on the strict fake, and packets sent
 * through it, for tests whose expected answers are written by hand: where a
 * connection's first packet goes (`to 10.244.1.5:8080`, `, masqueraded`),
 * or `refused (tcp reset)`, `dropped`, `not a Service`.
 */
import { parseCidr } from '../core/net/cidr.js';
import type { Cidr } from '../core/net/types.js';
import type { Cluster } from '../core/model/types.js';
import { buildServiceModel, type ServiceModelOptions } from '../core/services/model.js';
import type { ServiceModel } from '../core/services/types.js';
import { ServiceRenderer } from '../components/services/render.js';
import { FakeNft } from '../nft/fake.js';
import type { NftTable } from '../nft/model.js';
import { transactionText } from '../nft/text.js';
import type { PathResult } from '../nft/trace-path.js';
import { fullTransaction, partialTransaction } from '../nft/transactions.js';
import { validateTable } from '../nft/validate.js';

const cidr = (text: string): Cidr => {
  const c = parseCidr(text);
  if (!c) throw new Error(text);
  return c.cidr;
};

export const POD_CIDRS: readonly Cidr[] = [cidr('10.244.0.0/16'), cidr('fd00:244::/64')];
export const SERVICE_CIDRS: readonly Cidr[] = [cidr('10.96.0.0/16'), cidr('fd00:10:96::/112')];

/** One node's proxy on the fake: the model it renders and the table the fake holds. */
export class ProxyOnFake {
  readonly fake = new FakeNft();
  private readonly renderer = new ServiceRenderer();
  model: ServiceModel | undefined;
  table: NftTable | undefined;

  constructor(
    readonly node: string,
    /** The node's own addresses (the tracer's `fib … type local`). */
    readonly addresses: readonly string[],
    private readonly options: ServiceModelOptions = {},
  ) {}

  /** Renders `c` for this node and syncs it as the agent does: full first, partial after. */
  async sync(c: Cluster): Promise<void> {
    this.model = buildServiceModel(c, this.node, this.options);
    const { table } = this.renderer.render(this.model, {
      podCidrs: POD_CIDRS,
      serviceCidrs: SERVICE_CIDRS,
    });
    const problems = validateTable(table);
    if (problems.length > 0) throw new Error(problems.join('\n'));
    const tx = (this.table && partialTransaction(this.table, table)) ?? fullTransaction(table);
    await this.fake.apply(tx, transactionText(tx));
    this.table = table;
  }

  /** The first packet of a connection, through this node (see Send). */
  send(s: Send): PathResult {
    const v6 = s.to.includes(':');
    return this.fake.tracePath(
      {
        family: v6 ? 6 : 4,
        saddr: s.from,
        daddr: s.to,
        l4proto: s.proto ?? 'tcp',
        sport: s.sport ?? 40000,
        dport: s.port,
        ct: { state: 'new', direction: 'original' },
        localAddresses: this.addresses,
        masqueradeAddress: this.addresses.find((a) => a.includes(':') === v6) ?? '',
        random: s.random ?? 0,
        time: s.time ?? 0,
      },
      s.origin ?? 'network',
    );
  }

  /** Where the packet went, as a line (see outcome). */
  to(s: Send): string {
    return outcome(this.send(s));
  }
}

export interface Send {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly proto?: 'tcp' | 'udp' | 'sctp';
  readonly sport?: number;
  /** `network` (default): it arrives at the node; `local`: a process of the node sends it. */
  readonly origin?: 'network' | 'local';
  /** What `numgen random` gives it. */
  readonly random?: number;
  /** When, in seconds. */
  readonly time?: number;
}

/**
 * `to IP:PORT` (DNAT), with `, masqueraded` when its source was rewritten;
 * `refused (tcp reset)`; `dropped`; `not a Service` (no NAT, accepted).
 */
export function outcome(r: PathResult): string {
  if (r.rejected) return `refused (${r.rejected.with})`;
  if (r.verdict === 'drop') return 'dropped';
  const dnat = r.nat.find((n) => n.kind === 'dnat');
  const masq = r.nat.some((n) => n.kind === 'masquerade') ? ', masqueraded' : '';
  if (!dnat) return `not a Service${masq}`;
  const v6 = dnat.address.includes(':');
  const port = dnat.kind === 'dnat' && dnat.port !== undefined ? `:${dnat.port}` : '';
  return `to ${v6 ? `[${dnat.address}]` : dnat.address}${port}${masq}`;
}
