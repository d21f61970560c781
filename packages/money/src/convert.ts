import { parseDecimal } from './decimal.js';
import type { NanoUsd } from './nano.js';

/**
 * A USD amount (string or JSON number) as nano-USD, exactly. Throws when the amount is not a
 * whole number of nano-USD (more than 9 significant decimals): such a value is a price, and
 * prices go through the pricing functions, which round once at the end.
 * Negative amounts are converted too (the conversion is exact either way).
 */
export function usdToNano(usd: string | number): NanoUsd {
  const { units, scale } = parseDecimal(usd);
  if (scale <= 9) return units * 10n ** BigInt(9 - scale);
  const divisor = 10n ** BigInt(scale - 9);
  if (units % divisor !== 0n) {
    throw new Error(`not a whole number of nano-USD: ${JSON.stringify(String(usd))}`);
  }
  return units / divisor;
}
