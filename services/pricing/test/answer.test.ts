import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readAnswer } from '../src/index.js';

const asked = ['a', 'b', 'c', 'd'];
/** $100, the default ceiling. */
const CEILING = 100_000_000_000n;
const answer = (requests: unknown[]) => ({ requests });

describe('readAnswer', () => {
  it('takes every valid cost and lists the ids left out', () => {
    const result = readAnswer(
      answer([
        { requestId: 'a', costNanoUsd: 100 },
        { requestId: 'b', costNanoUsd: 0 },
      ]),
      asked,
      CEILING,
    );
    expect(result).toEqual({
      ok: true,
      report: {
        costs: new Map([
          ['a', 100n],
          ['b', 0n],
        ]),
        problems: new Map(),
        aboveCeiling: new Map(),
        leftOut: ['c', 'd'],
        unknownIds: 0,
        duplicates: 0,
      },
    });
  });

  it.each([
    ['negative', -5, 'negative'],
    ['fractional', 1.5, 'not an integer'],
    ['a string', '1200', 'a string is not a number here'],
    ['null', null, 'not a number'],
  ])('quarantines a %s cost with its reason', (_kind, cost, reason) => {
    const result = readAnswer(answer([{ requestId: 'a', costNanoUsd: cost }]), asked, CEILING);
    if (!result.ok) throw new Error(result.reason);
    expect(result.report.costs.has('a')).toBe(false);
    expect(result.report.problems.get('a')).toContain(reason);
  });

  it.each([
    ['one nano-USD above', 100_000_000_001, 'cost $100.000000001 above the ceiling $100.00'],
    [
      '$9M (the largest safe JSON integer)',
      Number.MAX_SAFE_INTEGER,
      'cost $9007199.254740991 above',
    ],
    [
      'not even a safe integer',
      JSON.parse('12345678901234567890') as number,
      'cost $12345678901.234567168 above',
    ],
    ['1e300', 1e300, 'above the ceiling $100.00'],
  ])('never books a cost above the ceiling: %s', (_kind, cost, reason) => {
    const result = readAnswer(answer([{ requestId: 'a', costNanoUsd: cost }]), asked, CEILING);
    if (!result.ok) throw new Error(result.reason);
    expect(result.report.costs.has('a')).toBe(false);
    expect(result.report.problems.has('a')).toBe(false);
    expect(result.report.leftOut).not.toContain('a');
    expect(result.report.aboveCeiling.get('a')).toContain(reason);
  });

  it('books the ceiling itself', () => {
    const result = readAnswer(
      answer([{ requestId: 'a', costNanoUsd: 100_000_000_000 }]),
      asked,
      CEILING,
    );
    if (!result.ok) throw new Error(result.reason);
    expect(result.report.costs.get('a')).toBe(CEILING);
  });

  it('any JSON number: booked exactly when it is a valid cost within the ceiling, never otherwise', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double(),
          fc.integer({ min: -1_000, max: Number.MAX_SAFE_INTEGER }),
          fc.bigInt({ min: 0n, max: 2n ** 70n }).map(Number),
        ),
        fc.bigInt({ min: 1n, max: 2n ** 53n }),
        (cost, ceiling) => {
          const result = readAnswer(
            answer([{ requestId: 'a', costNanoUsd: cost }]),
            ['a'],
            ceiling,
          );
          if (!result.ok) return false;
          const booked = result.report.costs.get('a');
          const valid = Number.isSafeInteger(cost) && cost >= 0 && BigInt(cost) <= ceiling;
          if (valid) return booked === BigInt(cost);
          // Not booked, and said why: above the ceiling or an invalid cost.
          return (
            booked === undefined &&
            (result.report.aboveCeiling.has('a') || result.report.problems.has('a'))
          );
        },
      ),
    );
  });

  it('distrusts an id answered twice, once above the ceiling', () => {
    const result = readAnswer(
      answer([
        { requestId: 'a', costNanoUsd: 7 },
        { requestId: 'a', costNanoUsd: 1e15 },
      ]),
      asked,
      CEILING,
    );
    if (!result.ok) throw new Error(result.reason);
    expect(result.report.costs.has('a')).toBe(false);
    expect(result.report.aboveCeiling.has('a')).toBe(false);
    expect(result.report.problems.get('a')).toBe('answered twice with different costs');
  });

  it('counts ids that were not asked and ignores them', () => {
    const result = readAnswer(
      answer([
        { requestId: 'zzz', costNanoUsd: 5 },
        { requestId: 'a', costNanoUsd: 1 },
      ]),
      asked,
      CEILING,
    );
    if (!result.ok) throw new Error(result.reason);
    expect(result.report.unknownIds).toBe(1);
    expect([...result.report.costs.keys()]).toEqual(['a']);
  });

  it('takes an id answered twice with the same cost once', () => {
    const result = readAnswer(
      answer([
        { requestId: 'a', costNanoUsd: 7 },
        { requestId: 'a', costNanoUsd: 7 },
      ]),
      asked,
      CEILING,
    );
    if (!result.ok) throw new Error(result.reason);
    expect(result.report.costs.get('a')).toBe(7n);
    expect(result.report.duplicates).toBe(1);
  });

  it('distrusts an id answered twice with different costs', () => {
    const result = readAnswer(
      answer([
        { requestId: 'a', costNanoUsd: 7 },
        { requestId: 'a', costNanoUsd: 8 },
      ]),
      asked,
      CEILING,
    );
    if (!result.ok) throw new Error(result.reason);
    expect(result.report.costs.has('a')).toBe(false);
    expect(result.report.problems.get('a')).toBe('answered twice with different costs');
  });

  it.each([
    ['not an object', 'hello'],
    ['no requests', { costs: [] }],
    ['requests not an array', { requests: {} }],
    ['an entry without requestId', { requests: [{ costNanoUsd: 1 }] }],
  ])('rejects a malformed answer: %s', (_kind, body) => {
    const result = readAnswer(body, asked, CEILING);
    expect(result.ok).toBe(false);
  });
});
