import { NANO_PER_USD, type NanoUsd } from './nano.js';

export interface FormatUsdOptions {
  /**
   * `'exact'` (default): the shortest exact form with at least 2 decimals ("$0.0012", "$2.00",
   * "$0.10", "$0.000000001"), for people.
   * `9`: always 9 decimals ("$0.001200000", "2.000000000"), the CSV statement form
   * (docs/contract.md §8).
   */
  decimals?: 'exact' | 9;
  /** Prefix "$" (default true). With a sign it goes "-$0.50". */
  dollarSign?: boolean;
}

/**
 * Exact decimal USD from nano-USD, using bigint division only (never floats). No thousands
 * separators, so the output (without "$") parses back with `parseDecimal` / `usdToNano`.
 */
export function formatUsd(nano: NanoUsd, options: FormatUsdOptions = {}): string {
  const { decimals = 'exact', dollarSign = true } = options;
  if (typeof nano !== 'bigint')
    throw new TypeError(`formatUsd expects a bigint, got ${typeof nano}`);
  if (decimals !== 'exact' && decimals !== 9) {
    throw new RangeError(`formatUsd: decimals must be 'exact' or 9, got ${String(decimals)}`);
  }
  const negative = nano < 0n;
  const magnitude = negative ? -nano : nano;
  const whole = magnitude / NANO_PER_USD;
  let fraction = (magnitude % NANO_PER_USD).toString().padStart(9, '0');
  if (decimals === 'exact') {
    // Trailing zeros carry no value; keep 2 decimals so amounts still read as cents.
    fraction = fraction.replace(/0+$/, '').padEnd(2, '0');
  }
  // "-0.00" cannot happen: magnitude 0 is never negative.
  return `${negative ? '-' : ''}${dollarSign ? '$' : ''}${whole}.${fraction}`;
}
