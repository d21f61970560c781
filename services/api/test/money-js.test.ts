import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { nanoToUsd, nanoToUsdNumber, sumNano, usdToNano } from '../public/money.js';

// The dashboard's money helpers (services/api/public/money.js): exact, BigInt and strings only.

describe('nanoToUsd', () => {
  it.each([
    ['0', '$0.00'],
    ['1', '$0.000000001'],
    ['10', '$0.00000001'],
    ['1200000', '$0.0012'],
    ['10000000', '$0.01'],
    ['100000000', '$0.10'],
    ['1000000000', '$1.00'],
    ['1234500000', '$1.2345'],
    ['2000000000', '$2.00'],
    ['25000000000', '$25.00'],
    ['999999999', '$0.999999999'],
    ['1234567890123', '$1234.567890123'],
    ['9223372036854775807', '$9223372036.854775807'],
    ['123456789012345678901234567890', '$123456789012345678901.23456789'],
    ['-5', '-$0.000000005'],
    ['-1500000000', '-$1.50'],
  ])('%s nano-USD → %s', (nano, usd) => {
    expect(nanoToUsd(nano)).toBe(usd);
  });

  it('accepts a bigint', () => {
    expect(nanoToUsd(1_234_500_000n)).toBe('$1.2345');
  });

  it('groups thousands on request', () => {
    expect(nanoToUsd('1234567890123', { grouping: true })).toBe('$1,234.567890123');
    expect(nanoToUsd('999000000000', { grouping: true })).toBe('$999.00');
    expect(nanoToUsd('1000000000000000', { grouping: true })).toBe('$1,000,000.00');
    expect(nanoToUsd('-1000000000000', { grouping: true })).toBe('-$1,000.00');
  });

  it.each(['', '1.5', '1e9', ' 1', 'abc', '+1', '--1'])('refuses %j', (bad) => {
    expect(() => nanoToUsd(bad)).toThrow(RangeError);
  });

  it('refuses numbers, so a float can never sneak in', () => {
    expect(() => nanoToUsd(1 as unknown as string)).toThrow(RangeError);
  });
});

describe('usdToNano', () => {
  it.each([
    ['25.00', '25000000000'],
    ['25', '25000000000'],
    ['$25', '25000000000'],
    ['0', '0'],
    ['0.00', '0'],
    ['-0', '0'],
    ['.5', '500000000'],
    ['5.', '5000000000'],
    ['0.0012', '1200000'],
    ['1.2345', '1234500000'],
    ['0.000000001', '1'],
    ['  12.5  ', '12500000000'],
    ['007.10', '7100000000'],
    ['1,234.5', '1234500000000'],
    ['$1,000,000', '1000000000000000'],
    ['9223372036.854775807', '9223372036854775807'],
    ['-1.50', '-1500000000'],
    ['-$1.50', '-1500000000'],
  ])('%j → %s nano-USD', (usd, nano) => {
    expect(usdToNano(usd)).toBe(nano);
  });

  it.each([
    ['0.0000000001', /9 decimals/],
    ['1.1234567890', /9 decimals/],
    ['', /like 25\.00/],
    ['   ', /like 25\.00/],
    ['.', /like 25\.00/],
    ['$', /like 25\.00/],
    ['-', /like 25\.00/],
    ['abc', /like 25\.00/],
    ['1e3', /like 25\.00/],
    ['1.2.3', /like 25\.00/],
    ['12,34', /like 25\.00/],
    ['1,2345', /like 25\.00/],
    ['+5', /like 25\.00/],
    ['0x10', /like 25\.00/],
    ['Infinity', /like 25\.00/],
  ])('refuses %j', (bad, message) => {
    expect(() => usdToNano(bad)).toThrow(RangeError);
    expect(() => usdToNano(bad)).toThrow(message);
  });
});

describe('round trips (fast-check)', () => {
  const nano = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });

  it('usdToNano(nanoToUsd(n)) === n, with and without grouping', () => {
    fc.assert(
      fc.property(nano, fc.boolean(), (n, grouping) => {
        expect(usdToNano(nanoToUsd(n, { grouping }))).toBe(n.toString());
      }),
      { numRuns: 2000 },
    );
  });

  it('any USD text with at most 9 decimals converts exactly and prints back to the same value', () => {
    const usdText = fc
      .tuple(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 0, maxLength: 9 }),
      )
      .map(([whole, fraction]) => ({ whole, fraction }));
    fc.assert(
      fc.property(usdText, ({ whole, fraction }) => {
        const text = fraction === '' ? whole.toString() : `${whole}.${fraction}`;
        const expected = whole * 10n ** 9n + BigInt(fraction.padEnd(9, '0'));
        const converted = usdToNano(text);
        expect(converted).toBe(expected.toString());
        // Printing back gives the same number, written with 2 to 9 decimals, no trailing zeros
        // past the second.
        const printed = nanoToUsd(converted);
        expect(printed).toMatch(/^\$\d+\.(\d{2}|\d{3,9}(?<!0))$/);
        expect(usdToNano(printed)).toBe(converted);
        const trimmed = fraction.replace(/0+$/, '').padEnd(2, '0');
        expect(printed).toBe(`$${whole}.${trimmed}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('a 10th decimal is always refused', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 10, maxLength: 20 }),
        (whole, fraction) => {
          expect(() => usdToNano(`${whole}.${fraction}`)).toThrow(/9 decimals/);
        },
      ),
    );
  });
});

describe('chart and sum helpers', () => {
  it('sumNano adds exactly, past 2^53', () => {
    expect(sumNano(['9007199254740993', '1', 2n])).toBe('9007199254740996');
    expect(sumNano([])).toBe('0');
  });

  it('nanoToUsdNumber is close enough to plot', () => {
    expect(nanoToUsdNumber('1234500000')).toBeCloseTo(1.2345, 12);
    expect(nanoToUsdNumber('0')).toBe(0);
    expect(nanoToUsdNumber(25_000_000_000n)).toBe(25);
  });
});
