/**
 * Deterministic costs and id selection. Everything here is a pure function of its strings, so a
 * test can recompute what the simulator answers without asking it.
 */

/** The smallest and largest cost the simulator ever gives a request, in nano-USD (inclusive). */
export const MIN_COST_NANO_USD = 1_000n;
export const MAX_COST_NANO_USD = 50_000_000n;

const MASK64 = (1n << 64n) - 1n;
const encoder = new TextEncoder();

/**
 * 64-bit FNV-1a over the UTF-8 bytes of `text`. Computed on two 32-bit halves (the prime is
 * 2^40 + 0x1b3) because BigInt arithmetic per byte is slow for 10,000-id batches.
 */
export function fnv1a64(text: string): bigint {
  let lo = 0x84222325;
  let hi = 0xcbf29ce4;
  for (const byte of encoder.encode(text)) {
    const l = (lo ^ byte) >>> 0;
    const productLo = l * 0x1b3; // < 2^41: exact in a double
    lo = productLo >>> 0;
    hi = (hi * 0x1b3 + Math.floor(productLo / 0x1_0000_0000) + ((l << 8) >>> 0)) >>> 0;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** splitmix64's finaliser: FNV's low bits are weak for near-identical strings. */
function mix64(value: bigint): bigint {
  let z = value;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** A stable, well-mixed 64-bit hash of a tuple of strings. */
export function stableHash64(...parts: readonly string[]): bigint {
  return mix64(fnv1a64(parts.join('\u0000')));
}

/**
 * The true cost of one request at one provider, in nano-USD: a non-negative integer in
 * [MIN_COST_NANO_USD, MAX_COST_NANO_USD], spread log-uniformly-ish (one decade in five from
 * 10^3 to 10^7, then uniform inside it, the last decade capped at 5·10^7). Integer-only, so it
 * is the same on every platform.
 */
export function trueCostNanoUsd(provider: string, requestId: string): bigint {
  const h = stableHash64('cost', provider, requestId);
  const decade = h % 5n;
  const low = 10n ** (3n + decade);
  const high = decade === 4n ? MAX_COST_NANO_USD + 1n : low * 10n;
  return low + ((h >> 3n) % (high - low));
}

/** A number in [0, 1) fixed by (provider, requestId, salt): which share of the ids an id falls in. */
export function idFraction(provider: string, requestId: string, salt: string): number {
  return Number(stableHash64('share', salt, provider, requestId) >> 11n) / 2 ** 53;
}

/**
 * Whether a fault that touches `share` (0..1) of the ids picks this id. The choice depends only
 * on (provider, requestId, salt), so it is reproducible and monotone in `share`. The simulator
 * salts with the fault's kind ('drop-ids', 'duplicate-ids', 'bad-cost').
 */
export function inShare(provider: string, requestId: string, salt: string, share: number): boolean {
  return share >= 1 || idFraction(provider, requestId, salt) < share;
}
