import { parseDecimal, type Decimal } from './decimal.js';
import type { NanoUsd } from './nano.js';
import { roundHalfUp } from './rounding.js';

/**
 * hf-inference cost (docs/contract.md §4): compute time × the hardware's USD price per second.
 * Exact until the single half-up rounding to the nano-USD.
 * Example of docs/contract.md §4: 10,000 ms at "0.00012" USD/s → 1,200,000 nano-USD ($0.0012).
 */
export function hfInferenceCostNano(
  computeTimeMs: number | bigint,
  usdPerSecond: string | number,
): NanoUsd {
  const ms = nonNegativeInteger(computeTimeMs, 'computeTimeMs');
  const price = nonNegativePrice(usdPerSecond, 'usdPerSecond');
  // nano = ms/1000 s × units/10^scale USD/s × 10^9 nano/USD
  return roundHalfUp(ms * price.units * 10n ** 9n, 10n ** BigInt(3 + price.scale));
}

/** Per-token prices in USD per million tokens, as the providers' `/v1/models` publish them. */
export interface TokenPricing {
  input: string | number;
  output: string | number;
}

/**
 * Token cost, used for spend estimates (docs/contract.md §6):
 * (inputTokens × input + outputTokens × output) / 1e6 USD, rounded once half-up to nano-USD.
 */
export function tokenCostNano(
  inputTokens: number | bigint,
  outputTokens: number | bigint,
  pricing: TokenPricing,
): NanoUsd {
  const tokensIn = nonNegativeInteger(inputTokens, 'inputTokens');
  const tokensOut = nonNegativeInteger(outputTokens, 'outputTokens');
  const priceIn = nonNegativePrice(pricing.input, 'pricing.input');
  const priceOut = nonNegativePrice(pricing.output, 'pricing.output');
  // Bring both prices to a common scale so the two terms add up exactly.
  const scale = Math.max(priceIn.scale, priceOut.scale);
  const total =
    tokensIn * priceIn.units * 10n ** BigInt(scale - priceIn.scale) +
    tokensOut * priceOut.units * 10n ** BigInt(scale - priceOut.scale);
  // nano = total/10^scale USD-per-million-tokens × tokens / 10^6 × 10^9 = total × 10^3 / 10^scale
  return roundHalfUp(total * 1000n, 10n ** BigInt(scale));
}

function nonNegativeInteger(value: number | bigint, name: string): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n) throw new RangeError(`${name} must be non-negative, got ${value}`);
    return value;
  }
  // A number must be a safe integer: above 2^53 it is no longer the count that was meant.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${String(value)}`);
  }
  return BigInt(value);
}

function nonNegativePrice(value: string | number, name: string): Decimal {
  const price = parseDecimal(value);
  if (price.units < 0n) throw new RangeError(`${name} must be non-negative, got ${String(value)}`);
  return price;
}
