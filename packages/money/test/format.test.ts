import { describe, it, expect } from 'vitest';
import { formatUsd } from '../src/index.js';

describe('formatUsd', () => {
  it.each([
    [1_200_000n, '$0.0012'],
    [2_000_000_000n, '$2.00'],
    [100_000_000n, '$0.10'],
    [1n, '$0.000000001'],
    [0n, '$0.00'],
    [1_234_567_890_123n, '$1234.567890123'],
    [-500_000_000n, '-$0.50'],
    [2n ** 63n - 1n, '$9223372036.854775807'],
  ])('exact (default): %s → %s', (nano, text) => {
    expect(formatUsd(nano)).toBe(text);
  });

  it.each([
    [1_200_000n, '$0.001200000', '0.001200000'],
    [2_000_000_000n, '$2.000000000', '2.000000000'],
    [0n, '$0.000000000', '0.000000000'],
    [-500_000_000n, '-$0.500000000', '-0.500000000'],
  ])('9 decimals: %s → %s / %s', (nano, withSign, csv) => {
    expect(formatUsd(nano, { decimals: 9 })).toBe(withSign);
    expect(formatUsd(nano, { decimals: 9, dollarSign: false })).toBe(csv);
  });

  it('drops the dollar sign on request in exact mode too', () => {
    expect(formatUsd(1_200_000n, { dollarSign: false })).toBe('0.0012');
    expect(formatUsd(-1n, { dollarSign: false })).toBe('-0.000000001');
  });

  it('never goes through floats (amounts far beyond 2^53 stay exact)', () => {
    expect(formatUsd(10n ** 30n + 1n)).toBe('$1000000000000000000000.000000001');
  });

  it('rejects non-bigint amounts and unknown decimals at run time', () => {
    expect(() => formatUsd(1 as unknown as bigint)).toThrow('bigint');
    expect(() => formatUsd(1n, { decimals: 2 as unknown as 9 })).toThrow('decimals');
  });
});
