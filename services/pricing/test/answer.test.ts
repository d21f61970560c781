import { describe, expect, it } from 'vitest';
import { readAnswer } from '../src/index.js';

const asked = ['a', 'b', 'c', 'd'];
const answer = (requests: unknown[]) => ({ requests });

describe('readAnswer', () => {
  it('takes every valid cost and lists the ids left out', () => {
    const result = readAnswer(
      answer([
        { requestId: 'a', costNanoUsd: 100 },
        { requestId: 'b', costNanoUsd: 0 },
      ]),
      asked,
    );
    expect(result).toEqual({
      ok: true,
      report: {
        costs: new Map([
          ['a', 100n],
          ['b', 0n],
        ]),
        problems: new Map(),
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
    ['huge', JSON.parse('12345678901234567890') as number, 'not a safe integer'],
    ['null', null, 'not a number'],
  ])('quarantines a %s cost with its reason', (_kind, cost, reason) => {
    const result = readAnswer(answer([{ requestId: 'a', costNanoUsd: cost }]), asked);
    if (!result.ok) throw new Error(result.reason);
    expect(result.report.costs.has('a')).toBe(false);
    expect(result.report.problems.get('a')).toContain(reason);
  });

  it('counts ids that were not asked and ignores them', () => {
    const result = readAnswer(
      answer([
        { requestId: 'zzz', costNanoUsd: 5 },
        { requestId: 'a', costNanoUsd: 1 },
      ]),
      asked,
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
    const result = readAnswer(body, asked);
    expect(result.ok).toBe(false);
  });
});
