import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_IDS_PER_CALL, intoBatches, mapLimit } from '../src/index.js';

describe('intoBatches', () => {
  it('25,000 ids → 10,000 / 10,000 / 5,000', () => {
    const ids = Array.from({ length: 25_000 }, (_, i) => `id-${i}`);
    expect(intoBatches(ids).map((b) => b.length)).toEqual([10_000, 10_000, 5_000]);
  });

  it('N ids → exactly ceil(N / 10,000) calls of at most 10,000, every id once, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 45_000 }), (n) => {
        const ids = Array.from({ length: n }, (_, i) => i);
        const batches = intoBatches(ids);
        expect(batches).toHaveLength(Math.ceil(n / MAX_IDS_PER_CALL));
        expect(batches.every((b) => b.length > 0 && b.length <= MAX_IDS_PER_CALL)).toBe(true);
        expect(batches.flat()).toEqual(ids);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a batch size that is not a positive integer', () => {
    expect(() => intoBatches([1], 0)).toThrow(/positive integer/);
  });
});

describe('mapLimit', () => {
  it('never runs more than the limit at once and keeps the order of results', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(5), { maxLength: 30 }),
        fc.integer({ min: 1, max: 5 }),
        async (delays, limit) => {
          let running = 0;
          let peak = 0;
          const results = await mapLimit(delays, limit, async (d) => {
            peak = Math.max(peak, ++running);
            await new Promise((r) => setTimeout(r, d));
            running--;
            return d * 2;
          });
          expect(peak).toBeLessThanOrEqual(limit);
          expect(results).toEqual(delays.map((d) => d * 2));
        },
      ),
      { numRuns: 30 },
    );
  });
});
