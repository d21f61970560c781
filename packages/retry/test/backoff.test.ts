import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../src/index.js';

const policy = { baseDelayMs: 1_000, maxDelayMs: 60_000 };
const draws = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const jitters = fc.constantFrom('full' as const, 'centred' as const, 'none' as const);

describe('backoffDelayMs with full jitter (webhook deliveries)', () => {
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

  it('is the default jitter', () => {
    expect(backoffDelayMs(4, { ...policy, jitter: 'full' }, () => 0.3)).toBe(
      backoffDelayMs(4, policy, () => 0.3),
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
    ['retry 0', 0, policy, 0.5],
    ['fractional retry', 1.5, policy, 0.5],
    ['NaN retry', Number.NaN, policy, 0.5],
    ['infinite retry', Number.POSITIVE_INFINITY, policy, 0.5],
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

describe('backoffDelayMs with centred jitter (cost calls)', () => {
  const centred = { ...policy, jitter: 'centred' as const };

  it('draws ±50 % around a step that doubles from the base, then caps at the max', () => {
    expect([1, 2, 3].map((n) => backoffDelayMs(n, centred, () => 0))).toEqual([500, 1_000, 2_000]);
    expect([1, 2, 3].map((n) => backoffDelayMs(n, centred, () => 0.5))).toEqual([
      1_000, 2_000, 4_000,
    ]);
    expect(backoffDelayMs(6, centred, () => 0.5)).toBe(32_000);
    expect(backoffDelayMs(6, centred, () => 0.99)).toBe(47_680);
    expect(backoffDelayMs(7, centred, () => 0)).toBe(32_000);
    expect(backoffDelayMs(7, centred, () => 0.99)).toBe(60_000);
    expect(backoffDelayMs(10_000, centred, () => 0)).toBe(60_000);
  });

  it("keeps pricing's former schedule: min(max, base·2^(retry-1)·(0.5 + random)), whole ms", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        draws,
        (retry, base, extra, draw) => {
          const limits = {
            baseDelayMs: base,
            maxDelayMs: base + extra,
            jitter: 'centred' as const,
          };
          const former = Math.min(limits.maxDelayMs, base * 2 ** (retry - 1) * (0.5 + draw));
          return backoffDelayMs(retry, limits, () => draw) === Math.floor(former);
        },
      ),
    );
  });
});

describe('backoffDelayMs without jitter (restarts)', () => {
  it('is the capped step whatever the draw', () => {
    const none = { ...policy, jitter: 'none' as const };
    expect([1, 2, 3, 6, 7, 10_000].map((n) => backoffDelayMs(n, none, () => 0.7))).toEqual([
      1_000, 2_000, 4_000, 32_000, 60_000, 60_000,
    ]);
  });
});

describe('backoffDelayMs, any jitter', () => {
  const limits = fc
    .tuple(fc.integer({ min: 0, max: 3_600_000 }), fc.integer({ min: 0, max: 3_600_000 }), jitters)
    .map(([base, extra, jitter]) => ({ baseDelayMs: base, maxDelayMs: base + extra, jitter }));

  it('is always a whole number within [0, max]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), limits, draws, (retry, policy, draw) => {
        const delay = backoffDelayMs(retry, policy, () => draw);
        return Number.isInteger(delay) && delay >= 0 && delay <= policy.maxDelayMs;
      }),
    );
  });

  it('never shrinks from one retry to the next for the same draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), limits, draws, (retry, policy, draw) => {
        return (
          backoffDelayMs(retry + 1, policy, () => draw) >= backoffDelayMs(retry, policy, () => draw)
        );
      }),
    );
  });

  it('grows until the cap: a later retry with the highest draw exceeds an earlier one', () => {
    const high = () => 1 - Number.EPSILON;
    for (const jitter of ['full', 'centred', 'none'] as const) {
      const delays = [1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, { ...policy, jitter }, high));
      expect(delays).toEqual([...delays].sort((a, b) => a - b));
      expect(new Set(delays).size).toBe(delays.length);
    }
  });

  it('is deterministic under an injected random', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), limits, draws, (retry, policy, draw) => {
        return (
          backoffDelayMs(retry, policy, () => draw) === backoffDelayMs(retry, policy, () => draw)
        );
      }),
    );
  });
});
