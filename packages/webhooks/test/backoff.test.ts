import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../src/index.js';

const policy = { baseDelayMs: 1_000, maxDelayMs: 60_000 };

describe('backoffDelayMs', () => {
  it('draws below a ceiling that doubles from the base, up to the max', () => {
    const justUnderOne = 1 - Number.EPSILON;
    expect(
      [1, 2, 3, 4, 6, 7, 8, 100].map((n) => backoffDelayMs(n, policy, () => justUnderOne)),
    ).toEqual([999, 1_999, 3_999, 7_999, 31_999, 59_999, 59_999, 59_999]);
    expect(backoffDelayMs(5, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(2_000);
  });

  it('stays within 0 ≤ delay ≤ min(max, base·2^(attempt-1)), as a whole number', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, extra, draw) => {
          const limits = { baseDelayMs: base, maxDelayMs: base + extra };
          const delay = backoffDelayMs(attempt, limits, () => draw);
          // Written out so that 0 · 2^1024 (= 0 · Infinity) is not NaN here either.
          const ceiling = base === 0 ? 0 : Math.min(limits.maxDelayMs, base * 2 ** (attempt - 1));
          return Number.isInteger(delay) && delay >= 0 && delay <= ceiling;
        },
      ),
    );
  });

  it('uses Math.random by default', () => {
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelayMs(2, policy);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(2_000);
    }
  });

  it('is 0 with a zero base, however many retries', () => {
    expect(backoffDelayMs(5_000, { baseDelayMs: 0, maxDelayMs: 0 }, () => 0.9)).toBe(0);
  });

  it.each([
    ['attempt 0', 0, policy, 0.5],
    ['fractional attempt', 1.5, policy, 0.5],
    ['NaN attempt', Number.NaN, policy, 0.5],
    ['infinite attempt', Number.POSITIVE_INFINITY, policy, 0.5],
    ['negative base', 1, { baseDelayMs: -1, maxDelayMs: 10 }, 0.5],
    ['NaN base', 1, { baseDelayMs: Number.NaN, maxDelayMs: 10 }, 0.5],
    ['infinite max', 1, { baseDelayMs: 1, maxDelayMs: Number.POSITIVE_INFINITY }, 0.5],
    ['max below base', 1, { baseDelayMs: 10, maxDelayMs: 5 }, 0.5],
    ['random() = 1', 1, policy, 1],
    ['negative random()', 1, policy, -0.1],
    ['NaN random()', 1, policy, Number.NaN],
  ])('rejects %s with a RangeError', (_name, attempt, limits, draw) => {
    expect(() => backoffDelayMs(attempt, limits, () => draw)).toThrow(RangeError);
  });
});
