export type IpFamily = 4 | 6;

/** An IP address as a number; `value` < 2^32 for IPv4, < 2^128 for IPv6. */
export interface IpAddr {
  readonly family: IpFamily;
  readonly value: bigint;
}

/** A CIDR block with its host bits cleared (`base` is always the network address). */
export interface Cidr {
  readonly family: IpFamily;
  readonly base: bigint;
  readonly prefix: number;
}
