/**
 * THE rounding step of nanobill (docs/contract.md §1): every computed amount is kept as an exact
 * fraction until the very end and rounded here, once, half-up to the nano-USD.
 *
 * Returns floor(numerator / denominator + 1/2): the nearest integer, ties going up. Defined
 * for a non-negative numerator and a positive denominator only (prices and costs are never
 * negative), so "half-up" is unambiguous; anything else throws.
 */
export function roundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (numerator < 0n) throw new RangeError(`roundHalfUp: negative numerator ${numerator}`);
  if (denominator <= 0n) {
    throw new RangeError(`roundHalfUp: denominator must be positive, got ${denominator}`);
  }
  const quotient = numerator / denominator; // bigint division truncates = floor here
  const remainder = numerator % denominator;
  return 2n * remainder >= denominator ? quotient + 1n : quotient;
}
