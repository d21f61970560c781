import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { hfInferenceCostNano, tokenCostNano } from '../src/index.js';

describe('hfInferenceCostNano', () => {
  it('prices the seed example: 10 s on a $0.00012/s machine = $0.0012', () => {
    expect(hfInferenceCostNano(10_000, '0.00012')).toBe(1_200_000n);
    expect(hfInferenceCostNano(10_000n, 0.00012)).toBe(1_200_000n);
  });

  it('is exact for JSON-number prices that are not exact doubles', () => {
    // 0.1 as a double is 0.1000000000000000055…; the price meant is exactly 0.1 USD/s.
    expect(hfInferenceCostNano(3, 0.1)).toBe(300_000n);
    expect(hfInferenceCostNano(1, 1e-7)).toBe(0n); // 0.1 nano rounds down
    expect(hfInferenceCostNano(5, 1e-7)).toBe(1n); // 0.5 nano: exactly half goes up
    expect(hfInferenceCostNano(4, 1e-7)).toBe(0n); // 0.4 nano
    expect(hfInferenceCostNano(15, 1e-7)).toBe(2n); // 1.5 nano → 2
    expect(hfInferenceCostNano(25, 1e-7)).toBe(3n); // 2.5 nano → 3, not to even
  });

  it('costs nothing for zero time or a free machine', () => {
    expect(hfInferenceCostNano(0, '0.00012')).toBe(0n);
    expect(hfInferenceCostNano(12_345, '0')).toBe(0n);
  });

  it('handles long compute times beyond 2^53 when given as bigint', () => {
    expect(hfInferenceCostNano(2n ** 60n, '1')).toBe(2n ** 60n * 1_000_000n);
  });

  it.each([-1, 1.5, NaN, Infinity, 2 ** 53])('rejects computeTimeMs %s', (ms) => {
    expect(() => hfInferenceCostNano(ms, '0.00012')).toThrow('computeTimeMs');
  });

  it('rejects a negative bigint time, a negative price and a malformed price', () => {
    expect(() => hfInferenceCostNano(-1n, '0.00012')).toThrow('computeTimeMs');
    expect(() => hfInferenceCostNano(1, '-0.00012')).toThrow('usdPerSecond');
    expect(() => hfInferenceCostNano(1, 'cheap')).toThrow('"cheap"');
  });

  const ms = fc.bigInt({ min: 0n, max: 10n ** 12n });
  const price = fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 15 }))
    .map(([units, scale]) => `${units}e-${scale}`);

  it('property: monotone in compute time', () => {
    fc.assert(
      fc.property(ms, ms, price, (a, b, p) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(hfInferenceCostNano(lo, p)).toBeLessThanOrEqual(hfInferenceCostNano(hi, p));
      }),
    );
  });

  it('property: additive within one rounding step', () => {
    fc.assert(
      fc.property(ms, ms, price, (a, b, p) => {
        const diff =
          hfInferenceCostNano(a + b, p) - hfInferenceCostNano(a, p) - hfInferenceCostNano(b, p);
        expect(diff >= -1n && diff <= 1n).toBe(true);
      }),
    );
  });

  it('property: a whole-nano price per ms is exactly additive', () => {
    // With a per-second price that is a multiple of 1000 nano, no rounding ever happens.
    fc.assert(
      fc.property(ms, ms, fc.bigInt({ min: 0n, max: 10n ** 9n }), (a, b, microPerSecond) => {
        const p = `${microPerSecond}e-6`;
        expect(hfInferenceCostNano(a + b, p)).toBe(
          hfInferenceCostNano(a, p) + hfInferenceCostNano(b, p),
        );
      }),
    );
  });
});

describe('tokenCostNano', () => {
  it('prices per million tokens exactly', () => {
    // 1,000 in × $0.25/M + 500 out × $0.69/M = $0.00025 + $0.000345 = $0.000595
    expect(tokenCostNano(1_000, 500, { input: 0.25, output: 0.69 })).toBe(595_000n);
    expect(tokenCostNano(1_000_000, 1_000_000, { input: '2', output: '8' })).toBe(10_000_000_000n);
  });

  it('mixes price scales and rounds once at the end, half-up', () => {
    // 1 × $0.0005/M = 0.5 nano, 1 × $0.0001/M = 0.1 nano: sum 0.6 → 1 (rounding each: 1 + 0)
    expect(tokenCostNano(1, 1, { input: '0.0005', output: '0.0001' })).toBe(1n);
    // 1 × $0.0004/M + 1 × $0.0004/M = 0.8 nano → 1; each alone would round to 0
    expect(tokenCostNano(1, 1, { input: 0.0004, output: 0.0004 })).toBe(1n);
    // exactly 0.5 nano goes up
    expect(tokenCostNano(1, 0, { input: '0.0005', output: '3' })).toBe(1n);
    expect(tokenCostNano(1, 0, { input: '0.0004999', output: '3' })).toBe(0n);
  });

  it('accepts bigint token counts', () => {
    expect(tokenCostNano(2n ** 60n, 0n, { input: '1', output: '1' })).toBe(2n ** 60n * 1000n);
  });

  it('rejects bad counts and prices', () => {
    expect(() => tokenCostNano(-1, 0, { input: 1, output: 1 })).toThrow('inputTokens');
    expect(() => tokenCostNano(0, 0.5, { input: 1, output: 1 })).toThrow('outputTokens');
    expect(() => tokenCostNano(1, 1, { input: -1, output: 1 })).toThrow('pricing.input');
    expect(() => tokenCostNano(1, 1, { input: 1, output: 'x' })).toThrow('"x"');
  });

  it('property: agrees with an independent exact computation', () => {
    const count = fc.bigInt({ min: 0n, max: 10n ** 10n });
    const dec = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 8n }), fc.integer({ min: 0, max: 12 }));
    fc.assert(
      fc.property(count, count, dec, dec, (tin, tout, [ui, si], [uo, so]) => {
        // Cost in units of 10^-(si+so+...) USD: cross-multiply to a common denominator.
        const num = (tin * ui * 10n ** BigInt(so) + tout * uo * 10n ** BigInt(si)) * 10n ** 9n;
        const den = 10n ** 6n * 10n ** BigInt(si + so);
        const floor = num / den;
        const expected = (num % den) * 2n >= den ? floor + 1n : floor;
        expect(tokenCostNano(tin, tout, { input: `${ui}e-${si}`, output: `${uo}e-${so}` })).toBe(
          expected,
        );
      }),
    );
  });
});
