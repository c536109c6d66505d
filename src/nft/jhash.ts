/**
 * The kernel's `jhash` expression (net/netfilter/nft_hash.c), so the tracer
 * picks what the kernel picks: the fields are laid out as nft puts them in
 * registers (addresses and ports in network order, `meta l4proto` one byte;
 * in a concatenation each field padded with zeros to 4 bytes), hashed with Linux's jhash()
 * (include/linux/jhash.h, reading 32-bit words little-endian as x86 and
 * arm64 do) and the seed, then scaled into 0..mod-1 with reciprocal_scale,
 * not `%`. test/integration checks it against the kernel.
 */
import type { NftSelector } from './model.js';

const JHASH_INITVAL = 0xdeadbeef;

const rol = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

function mix(v: [number, number, number]): void {
  let [a, b, c] = v;
  a = (a - c) >>> 0;
  a = (a ^ rol(c, 4)) >>> 0;
  c = (c + b) >>> 0;
  b = (b - a) >>> 0;
  b = (b ^ rol(a, 6)) >>> 0;
  a = (a + c) >>> 0;
  c = (c - b) >>> 0;
  c = (c ^ rol(b, 8)) >>> 0;
  b = (b + a) >>> 0;
  a = (a - c) >>> 0;
  a = (a ^ rol(c, 16)) >>> 0;
  c = (c + b) >>> 0;
  b = (b - a) >>> 0;
  b = (b ^ rol(a, 19)) >>> 0;
  a = (a + c) >>> 0;
  c = (c - b) >>> 0;
  c = (c ^ rol(b, 4)) >>> 0;
  b = (b + a) >>> 0;
  v[0] = a;
  v[1] = b;
  v[2] = c;
}

function final(v: [number, number, number]): void {
  let [a, b, c] = v;
  c = (c ^ b) >>> 0;
  c = (c - rol(b, 14)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rol(c, 11)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rol(a, 25)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rol(b, 16)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rol(c, 4)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rol(a, 14)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rol(b, 24)) >>> 0;
  v[0] = a;
  v[1] = b;
  v[2] = c;
}

/** Linux's jhash(key, length, initval) over bytes. */
export function jhash(key: Uint8Array, seed: number): number {
  let length = key.length;
  const init = (JHASH_INITVAL + length + seed) >>> 0;
  const v: [number, number, number] = [init, init, init];
  const word = (i: number) =>
    ((key[i] ?? 0) |
      ((key[i + 1] ?? 0) << 8) |
      ((key[i + 2] ?? 0) << 16) |
      ((key[i + 3] ?? 0) << 24)) >>>
    0;
  let k = 0;
  while (length > 12) {
    v[0] = (v[0] + word(k)) >>> 0;
    v[1] = (v[1] + word(k + 4)) >>> 0;
    v[2] = (v[2] + word(k + 8)) >>> 0;
    mix(v);
    length -= 12;
    k += 12;
  }
  if (length === 0) return v[2];
  // The tail: bytes k .. k+length-1, each into a, b or c at its place (the kernel's fallthrough switch).
  for (let i = 0; i < length; i++) {
    const byte = key[k + i] ?? 0;
    const slot = Math.floor(i / 4) as 0 | 1 | 2;
    v[slot] = (v[slot] + ((byte << ((i % 4) * 8)) >>> 0)) >>> 0;
  }
  final(v);
  return v[2];
}

/** The kernel's reciprocal_scale: `hash` scaled into 0..mod-1. */
export function reciprocalScale(hash: number, mod: number): number {
  return Number((BigInt(hash >>> 0) * BigInt(mod)) >> 32n);
}

/** A field's bytes as nft loads it into a register. */
export function fieldBytes(sel: NftSelector, value: bigint | string): Uint8Array {
  const be = (v: bigint, bytes: number) => {
    const out: number[] = [];
    for (let i = bytes - 1; i >= 0; i--) out.push(Number((v >> BigInt(i * 8)) & 0xffn));
    return out;
  };
  let bytes: number[];
  if (typeof value !== 'bigint') throw new Error(`jhash of ${sel}: the tracer hashes numbers only`);
  switch (sel) {
    case 'ip saddr':
    case 'ip daddr':
      bytes = be(value, 4);
      break;
    case 'ip6 saddr':
    case 'ip6 daddr':
      bytes = be(value, 16);
      break;
    case 'th sport':
    case 'th dport':
      bytes = be(value, 2);
      break;
    case 'meta l4proto':
      bytes = [Number(value)];
      break;
    case 'meta mark':
    case 'ct mark':
      // Kept in host order: little-endian.
      bytes = be(value, 4).reverse();
      break;
    default:
      throw new Error(`jhash of ${sel}: the tracer does not know its layout`);
  }
  return Uint8Array.from(bytes);
}

/** `jhash FIELDS mod MOD seed SEED` of the given field values. */
export function jhashOf(
  fields: readonly { readonly sel: NftSelector; readonly value: bigint | string }[],
  mod: number,
  seed: number,
): number {
  const parts = fields.map((f) => {
    const bytes = fieldBytes(f.sel, f.value);
    if (fields.length === 1 || bytes.length % 4 === 0) return bytes;
    const padded = new Uint8Array(bytes.length + 4 - (bytes.length % 4));
    padded.set(bytes);
    return padded;
  });
  const key = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    key.set(p, at);
    at += p.length;
  }
  return reciprocalScale(jhash(key, seed), mod);
}
