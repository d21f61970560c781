// The unit of every amount (docs/contract.md §1): an integer number of nano-USD, as the providers'
// cost endpoints report it. bigint so that sums never lose precision.

export type NanoUsd = bigint;

export const NANO_PER_USD = 1_000_000_000n;

/** Largest amount ClickHouse can hold in an Int64 column (and our JSON range check's limit). */
export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);

/**
 * Whether an amount can be written into an Int64 column. Check before every write of a computed
 * figure: ClickHouse does not refuse an integer that does not fit, it silently wraps it.
 */
export function fitsInt64(n: NanoUsd): boolean {
  return n >= INT64_MIN && n <= INT64_MAX;
}

/** Exact sum; an empty input sums to 0. */
export function sumNano(values: Iterable<NanoUsd>): NanoUsd {
  let total = 0n;
  for (const v of values) total += v;
  return total;
}

/**
 * The JSON form of an amount leaving the system: always a decimal string, even when small,
 * so consumers never need to know where JSON numbers stop being exact (2^53).
 */
export function nanoToJson(n: NanoUsd): string {
  if (typeof n !== 'bigint') throw new TypeError(`nanoToJson expects a bigint, got ${typeof n}`);
  return n.toString();
}
