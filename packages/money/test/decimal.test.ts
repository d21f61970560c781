import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseDecimal, usdToNano, formatUsd, NANO_PER_USD } from '../src/index.js';

describe('parseDecimal', () => {
  it.each([
    ['0.00012', 12n, 5],
    ['2', 2n, 0],
    ['2.50', 250n, 2],
    ['-1.5', -15n, 1],
    ['1e-7', 1n, 7],
    ['1.2E3', 1200n, 0],
    ['1.5e-7', 15n, 8],
    ['1e+21', 10n ** 21n, 0],
    ['0', 0n, 0],
    ['007.10', 710n, 2],
  ])('parses %j exactly', (input, units, scale) => {
    expect(parseDecimal(input)).toEqual({ units, scale });
  });

  it.each([
    // JSON numbers arrive as doubles; their shortest round-trip form is what the file said.
    [0.1, 1n, 1],
    [0.00012, 12n, 5],
    [1e-7, 1n, 7],
    [2, 2n, 0],
    [2.5, 25n, 1],
    [-0, 0n, 0],
    [1e21, 10n ** 21n, 0],
    [5e-324, 5n, 324],
  ])('parses the JSON number %s as written', (input, units, scale) => {
    expect(parseDecimal(input)).toEqual({ units, scale });
  });

  it.each([
    '',
    ' 1',
    '1 ',
    'abc',
    '1.',
    '.5',
    '+1',
    '1e',
    '1e1.5',
    '--1',
    '0x10',
    '1,5',
    '$1',
    '1_000',
  ])('rejects %j, naming it', (input) => {
    expect(() => parseDecimal(input)).toThrow(JSON.stringify(input));
  });

  it.each([NaN, Infinity, -Infinity])('rejects the number %s', (input) => {
    expect(() => parseDecimal(input)).toThrow(String(input));
  });

  it('rejects absurd exponents instead of building huge bigints', () => {
    expect(() => parseDecimal('1e999999999')).toThrow('exponent');
    expect(() => parseDecimal('1e-999999999')).toThrow('exponent');
  });

  it('rejects non-string, non-number input at run time', () => {
    expect(() => parseDecimal(null as unknown as string)).toThrow('null');
  });

  it('property: any double parses to the value its shortest form denotes', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const { units, scale } = parseDecimal(x);
        expect(scale).toBeGreaterThanOrEqual(0);
        // Re-reading the exact decimal as a double gives the same double back.
        const text = `${units}e-${scale}`;
        expect(Number(text)).toBe(x === 0 ? 0 : x);
      }),
    );
  });

  it('property: formatUsd (9 decimals) parses back to the same amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (nano) => {
        const parsed = parseDecimal(formatUsd(nano, { decimals: 9, dollarSign: false }));
        expect(parsed).toEqual({ units: nano, scale: 9 });
      }),
    );
  });

  it('property: formatUsd (exact) parses back to the same amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (nano) => {
        const { units, scale } = parseDecimal(formatUsd(nano, { dollarSign: false }));
        expect(scale).toBeLessThanOrEqual(9);
        expect(units * 10n ** BigInt(9 - scale)).toBe(nano);
      }),
    );
  });
});

describe('usdToNano', () => {
  it.each([
    ['0.0012', 1_200_000n],
    ['2', 2n * NANO_PER_USD],
    ['2.00', 2n * NANO_PER_USD],
    ['0.000000001', 1n],
    ['1e-9', 1n],
    ['-0.5', -500_000_000n],
    ['0.1000000000000', 100_000_000n], // more than 9 decimals, but only zeros: still whole nano
    ['9223372036.854775807', 2n ** 63n - 1n],
  ])('converts %j exactly', (usd, nano) => {
    expect(usdToNano(usd)).toBe(nano);
  });

  it.each([
    [0.1, 100_000_000n],
    [0.00012, 120_000n],
    [1e-7, 100n],
    [2, 2_000_000_000n],
    [10, 10_000_000_000n],
  ])('converts the JSON number %s exactly', (usd, nano) => {
    expect(usdToNano(usd)).toBe(nano);
  });

  it('refuses amounts below a nano-USD instead of rounding them', () => {
    expect(() => usdToNano('0.0000000001')).toThrow('"0.0000000001"');
    expect(() => usdToNano(1e-10)).toThrow('not a whole number of nano-USD');
    expect(() => usdToNano('0.0000000015')).toThrow();
  });

  it('rejects what is not a number', () => {
    expect(() => usdToNano('$1')).toThrow('"$1"');
  });

  it('property: inverts formatUsd (9 decimals) on [0, 2^63)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), (nano) => {
        expect(usdToNano(formatUsd(nano, { decimals: 9, dollarSign: false }))).toBe(nano);
      }),
    );
  });
});
