import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { roundHalfUp } from '../src/index.js';

describe('roundHalfUp', () => {
  it.each([
    [0n, 1n, 0n],
    [10n, 5n, 2n],
    [14n, 10n, 1n],
    [15n, 10n, 2n], // exactly .5 goes up
    [25n, 10n, 3n], // not to even: half-up, always
    [5n, 10n, 1n],
    [4n, 10n, 0n],
    [1n, 2n, 1n],
    [1n, 3n, 0n],
    [2n, 3n, 1n],
    [16n, 10n, 2n],
  ])('roundHalfUp(%s, %s) = %s', (n, d, r) => {
    expect(roundHalfUp(n, d)).toBe(r);
  });

  it('throws on a negative numerator or a non-positive denominator', () => {
    expect(() => roundHalfUp(-1n, 2n)).toThrow('negative numerator');
    expect(() => roundHalfUp(1n, 0n)).toThrow('denominator');
    expect(() => roundHalfUp(1n, -2n)).toThrow('denominator');
  });

  it('property: the unique nearest integer, ties going up', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 128n }),
        fc.bigInt({ min: 1n, max: 2n ** 70n }),
        (n, d) => {
          const r = roundHalfUp(n, d);
          // |n - r·d| ≤ d/2 with ties going up means n - r·d ∈ [-d/2, d/2): a half-open interval
          // of width d holds exactly one such r. Doubled to stay in integers.
          const error2 = 2n * (n - r * d);
          expect(error2 >= -d && error2 < d).toBe(true);
          // Spelled out: the neighbours are farther, or (r - 1 at a tie) equally far but lower.
          expect(2n * (n - (r - 1n) * d)).toBeGreaterThanOrEqual(d);
          expect(2n * (n - (r + 1n) * d)).toBeLessThan(-d);
        },
      ),
    );
  });

  it('property: exact quotients are returned unchanged', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n }),
        fc.bigInt({ min: 1n, max: 2n ** 64n }),
        (q, d) => {
          expect(roundHalfUp(q * d, d)).toBe(q);
        },
      ),
    );
  });
});
