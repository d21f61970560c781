import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { applyCredits } from '../src/index.js';

describe('applyCredits', () => {
  it.each([
    // gross, grant, payAsYouGo → applied, payable, writtenOff
    [1_500_000_000n, 2_000_000_000n, true, 1_500_000_000n, 0n, 0n],
    [2_000_000_000n, 2_000_000_000n, true, 2_000_000_000n, 0n, 0n],
    [5_000_000_001n, 2_000_000_000n, true, 2_000_000_000n, 3_000_000_001n, 0n],
    [0n, 2_000_000_000n, true, 0n, 0n, 0n],
    [50_000_000n, 100_000_000n, false, 50_000_000n, 0n, 0n],
    [100_000_123n, 100_000_000n, false, 100_000_000n, 0n, 123n],
    // A free org: no grant, no pay-as-you-go: everything written off.
    [7_000n, 0n, false, 0n, 0n, 7_000n],
    // A negative gross (a refund-like correction) applies no credits.
    [-500_000_000n, 2_000_000_000n, true, 0n, -500_000_000n, 0n],
    [-500_000_000n, 100_000_000n, false, 0n, 0n, -500_000_000n],
  ])('gross %s, grant %s, payAsYouGo %s', (gross, grant, paygo, applied, payable, writtenOff) => {
    expect(applyCredits({ gross, grant, payAsYouGo: paygo })).toEqual({
      creditsApplied: applied,
      payable,
      writtenOff,
    });
  });

  it('rejects a negative grant and non-bigint amounts', () => {
    expect(() => applyCredits({ gross: 1n, grant: -1n, payAsYouGo: true })).toThrow(/grant/);
    expect(() =>
      applyCredits({ gross: 1 as unknown as bigint, grant: 1n, payAsYouGo: true }),
    ).toThrow(/gross must be a bigint/);
    expect(() =>
      applyCredits({ gross: 1n, grant: '1' as unknown as bigint, payAsYouGo: true }),
    ).toThrow(/grant must be a bigint/);
    expect(() =>
      applyCredits({ gross: 1n, grant: 1n, payAsYouGo: 'yes' as unknown as boolean }),
    ).toThrow(/payAsYouGo/);
  });
});

const INT64_MAX = 2n ** 63n - 1n;
const amount = fc.bigInt({ min: 0n, max: INT64_MAX });
// Small amounts too, so gross < grant and gross > grant both happen often.
const small = fc.bigInt({ min: 0n, max: 3_000_000_000n });
const nonNegative = fc.oneof(small, amount);

describe('applyCredits: properties', () => {
  it('credits applied ≤ gross and ≤ grant; all non-negative when gross ≥ 0', () => {
    fc.assert(
      fc.property(nonNegative, nonNegative, fc.boolean(), (gross, grant, paygo) => {
        const r = applyCredits({ gross, grant, payAsYouGo: paygo });
        expect(r.creditsApplied <= gross).toBe(true);
        expect(r.creditsApplied <= grant).toBe(true);
        expect(r.creditsApplied).toBe(gross < grant ? gross : grant);
        expect(r.creditsApplied >= 0n && r.payable >= 0n && r.writtenOff >= 0n).toBe(true);
      }),
    );
  });

  it('pay-as-you-go: payable + credits applied = gross, nothing written off', () => {
    fc.assert(
      fc.property(nonNegative, nonNegative, (gross, grant) => {
        const r = applyCredits({ gross, grant, payAsYouGo: true });
        expect(r.payable + r.creditsApplied).toBe(gross);
        expect(r.writtenOff).toBe(0n);
      }),
    );
  });

  it('free: payable is 0 and credits applied + written off = gross', () => {
    fc.assert(
      fc.property(nonNegative, nonNegative, (gross, grant) => {
        const r = applyCredits({ gross, grant, payAsYouGo: false });
        expect(r.payable).toBe(0n);
        expect(r.creditsApplied + r.writtenOff).toBe(gross);
      }),
    );
  });

  it('any gross (corrections may be negative): applied + payable + written off = gross', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -INT64_MAX, max: INT64_MAX }),
        nonNegative,
        fc.boolean(),
        (gross, grant, paygo) => {
          const r = applyCredits({ gross, grant, payAsYouGo: paygo });
          expect(r.creditsApplied + r.payable + r.writtenOff).toBe(gross);
          expect(r.creditsApplied >= 0n && r.creditsApplied <= grant).toBe(true);
          expect(paygo ? r.writtenOff : r.payable).toBe(0n);
        },
      ),
    );
  });

  it('a larger grant never increases what is payable or written off', () => {
    fc.assert(
      fc.property(nonNegative, small, small, fc.boolean(), (gross, a, b, paygo) => {
        const [lo, hi] = a < b ? [a, b] : [b, a];
        const rLo = applyCredits({ gross, grant: lo, payAsYouGo: paygo });
        const rHi = applyCredits({ gross, grant: hi, payAsYouGo: paygo });
        expect(rHi.payable <= rLo.payable && rHi.writtenOff <= rLo.writtenOff).toBe(true);
      }),
    );
  });
});
