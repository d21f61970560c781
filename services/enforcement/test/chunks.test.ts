import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PUBLISH_CHUNK_LIMITS, chunked } from '../src/chunks.js';

describe('chunked: bounded sends (issue 13)', () => {
  it('keeps the order and cuts by count and by bytes', () => {
    const limits = { maxMessages: 3, maxBytes: 10 };
    expect(chunked([1, 1, 1, 1, 1], (n) => n, limits)).toEqual([
      [1, 1, 1],
      [1, 1],
    ]);
    expect(chunked([4, 4, 4, 9, 12, 1], (n) => n, limits)).toEqual([[4, 4], [4], [9], [12], [1]]);
    expect(chunked([], (n: number) => n, limits)).toEqual([]);
  });

  it('property: every item once, in order; no chunk over a limit unless a lone item is', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 400_000 }), { maxLength: 3_000 }), (sizes) => {
        const chunks = chunked(sizes, (n) => n);
        expect(chunks.flat()).toEqual(sizes);
        for (const chunk of chunks) {
          expect(chunk.length).toBeGreaterThan(0);
          expect(chunk.length).toBeLessThanOrEqual(PUBLISH_CHUNK_LIMITS.maxMessages);
          const bytes = chunk.reduce((a, b) => a + b, 0);
          if (chunk.length > 1) expect(bytes).toBeLessThanOrEqual(PUBLISH_CHUNK_LIMITS.maxBytes);
        }
      }),
      { numRuns: 50 },
    );
  });
});
