import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import kafkajs from 'kafkajs';
import { FastDefaultPartitioner } from '../src/partitioner.js';

const partitions = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: 1,
    replicas: [1],
    isr: [1],
    partitionErrorCode: 0,
  }));

describe('FastDefaultPartitioner', () => {
  it("puts every key on the same partition as kafkajs's DefaultPartitioner", () => {
    const reference = kafkajs.Partitioners.DefaultPartitioner();
    const fast = FastDefaultPartitioner();
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 80 }),
        fc.integer({ min: 1, max: 64 }),
        fc.boolean(),
        (key, n, asBuffer) => {
          const message = { key: asBuffer ? Buffer.from(key) : key, value: 'v' };
          const args = { topic: 't', partitionMetadata: partitions(n), message };
          expect(fast(args)).toBe(reference(args));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('keeps an explicit partition', () => {
    const fast = FastDefaultPartitioner();
    expect(
      fast({
        topic: 't',
        partitionMetadata: partitions(6),
        message: { key: 'k', value: 'v', partition: 4 },
      }),
    ).toBe(4);
  });
});
