import { ipKey } from '../net/ip.js';
import { AddressRanges } from '../net/ranges.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { Protocol } from '../model/types.js';
import type { IrSet, PolicyIr, SetId } from './ir.js';

/** Fast membership tests over the IR's sets, as the kernel's sets answer them. */
export class SetIndex {
  private readonly hosts = new Map<SetId, Set<string>>();
  private readonly blocks = new Map<SetId, AddressRanges>();
  private readonly ports = new Map<SetId, Set<string>>();

  constructor(private readonly ir: PolicyIr) {
    for (const set of ir.sets.values()) this.add(set);
  }

  private add(set: IrSet): void {
    if (set.kind === 'ports') {
      this.ports.set(set.id, new Set(set.entries.map((e) => portKey(e.ip, e.protocol, e.port))));
      return;
    }
    const hosts = new Set<string>();
    const blocks: Cidr[] = [];
    for (const c of set.cidrs) {
      if (c.prefix === (c.family === 4 ? 32 : 128))
        hosts.add(ipKey({ family: c.family, value: c.base }));
      else blocks.push(c);
    }
    this.hosts.set(set.id, hosts);
    this.blocks.set(set.id, new AddressRanges(blocks));
  }

  hasAddress(id: SetId, ip: IpAddr): boolean {
    const hosts = this.hosts.get(id);
    if (!hosts) throw new Error(`no address set ${id}`);
    if (hosts.has(ipKey(ip))) return true;
    return this.blocks.get(id)?.has(ip) ?? false;
  }

  hasPort(id: SetId, ip: IpAddr, protocol: Protocol, port: number): boolean {
    const set = this.ports.get(id);
    if (!set) throw new Error(`no port set ${id}`);
    return set.has(portKey(ip, protocol, port));
  }

  get policyIr(): PolicyIr {
    return this.ir;
  }
}

function portKey(ip: IpAddr, protocol: Protocol, port: number): string {
  return `${ipKey(ip)}|${protocol}|${port}`;
}
