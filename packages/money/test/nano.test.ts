import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  INT64_MAX,
  INT64_MIN,
  NANO_PER_USD,
  fitsInt64,
  hfInferenceCostNano,
  nanoToJson,
  parseDecimal,
  parseNanoUsd,
  sumNano,
  tokenCostNano,
} from '../src/index.js';

describe('constants', () => {
  it('has a billion nano-USD per USD and the Int64 maximum', () => {
    expect(NANO_PER_USD).toBe(1_000_000_000n);
    expect(INT64_MAX).toBe(9_223_372_036_854_775_807n);
  });
});

describe('sumNano', () => {
  it('sums exactly, beyond 2^53', () => {
    expect(sumNano([])).toBe(0n);
    expect(sumNano([1n, 2n, -3n])).toBe(0n);
    expect(sumNano([2n ** 62n, 2n ** 62n, 1n])).toBe(2n ** 63n + 1n);
  });

  it('takes any iterable', () => {
    function* amounts(): Generator<bigint> {
      yield 5n;
      yield 7n;
    }
    expect(sumNano(amounts())).toBe(12n);
    expect(sumNano(new Set([1n, 2n]))).toBe(3n);
  });
});

describe('nanoToJson', () => {
  it('is always a decimal string', () => {
    expect(nanoToJson(0n)).toBe('0');
    expect(nanoToJson(1_200_000n)).toBe('1200000');
    expect(nanoToJson(-5n)).toBe('-5');
    expect(JSON.stringify({ costNanoUsd: nanoToJson(2n ** 63n - 1n) })).toBe(
      '{"costNanoUsd":"9223372036854775807"}',
    );
  });

  it('rejects a number at run time', () => {
    expect(() => nanoToJson(5 as unknown as bigint)).toThrow('bigint');
  });

  it('property: round-trips through parseNanoUsd on [0, 2^63)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: INT64_MAX }), (n) => {
        expect(parseNanoUsd(JSON.parse(JSON.stringify(nanoToJson(n))))).toEqual({
          ok: true,
          value: n,
        });
      }),
    );
  });
});

describe('parseNanoUsd', () => {
  it.each([
    [0, 0n],
    [-0, 0n],
    [1_200_000, 1_200_000n],
    [Number.MAX_SAFE_INTEGER, 9_007_199_254_740_991n],
    ['0', 0n],
    ['1200000', 1_200_000n],
    ['9223372036854775807', INT64_MAX],
  ])('accepts %j', (value, expected) => {
    expect(parseNanoUsd(value)).toEqual({ ok: true, value: expected });
  });

  it.each([
    [-1, 'negative (-1)'],
    [-1.5, 'negative'],
    [1.5, 'not an integer (1.5)'],
    [1e-7, 'not an integer (1e-7)'],
    [2 ** 53, 'not a safe integer (JSON numbers above 2^53 lose precision)'],
    [1e300, 'not a safe integer'],
    [NaN, 'not a finite number'],
    [Infinity, 'not a finite number'],
    ['', 'empty string'],
    ['-1', 'negative ("-1")'],
    ['1.5', 'not an integer ("1.5")'],
    ['1.', 'not an integer'],
    ['007', 'leading zeros ("007")'],
    ['00', 'leading zeros'],
    [' 1', 'not a decimal string of digits'],
    ['1e3', 'not a decimal string of digits'],
    ['+1', 'not a decimal string of digits'],
    ['0x1F', 'not a decimal string of digits'],
    ['9223372036854775808', 'above 2^63-1'],
    ['1'.repeat(400), 'above 2^63-1'],
    [null, 'got null'],
    [undefined, 'got undefined'],
    [true, 'got boolean'],
    [[1], 'got array'],
    [{ n: 1 }, 'got object'],
  ])('rejects %j: %s', (value, reason) => {
    const result = parseNanoUsd(value);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  it('rejects a bigint: JSON never yields one', () => {
    expect(parseNanoUsd(1n)).toEqual({
      ok: false,
      reason: 'not a number or decimal string (got bigint)',
    });
  });

  it('rejects strings when the source (the provider cost API) must send numbers', () => {
    expect(parseNanoUsd('1200000', { allowString: false })).toEqual({
      ok: false,
      reason: 'a string is not a number here ("1200000")',
    });
    expect(parseNanoUsd(1_200_000, { allowString: false })).toEqual({
      ok: true,
      value: 1_200_000n,
    });
    const missing = parseNanoUsd(null, { allowString: false });
    expect(missing.ok || missing.reason).toBe('not a number (got null)');
  });

  it('property: accepts every non-negative safe integer as itself', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        expect(parseNanoUsd(n, { allowString: false })).toEqual({ ok: true, value: BigInt(n) });
      }),
    );
  });

  it('property: every non-integer double is rejected with a reason', () => {
    fc.assert(
      fc.property(
        fc.double().filter((x) => !Number.isSafeInteger(x)),
        (x) => {
          const result = parseNanoUsd(x);
          expect(result.ok).toBe(false);
        },
      ),
    );
  });
});

describe('fitsInt64: what may be written into an Int64 column (ClickHouse wraps the rest)', () => {
  it('has the Int64 bounds, inclusive', () => {
    expect(INT64_MIN).toBe(-9_223_372_036_854_775_808n);
    expect([INT64_MIN, -1n, 0n, INT64_MAX].map(fitsInt64)).toEqual([true, true, true, true]);
    expect([INT64_MIN - 1n, INT64_MAX + 1n, 2n ** 127n].map(fitsInt64)).toEqual([
      false,
      false,
      false,
    ]);
  });
  it('agrees with a round trip through a signed 64-bit integer', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), (n) => {
        return fitsInt64(n) === (BigInt.asIntN(64, n) === n);
      }),
    );
  });
});

describe('money multiplication never wraps: any compute time or token count the contract accepts', () => {
  const price = fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 12 }))
    .map(([units, scale]) => (scale === 0 ? String(units) : `${units}e-${scale}`));
  const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

  it('hf-inference: exact (one rounding), never negative, whatever its size', () => {
    fc.assert(
      fc.property(count, price, (ms, usdPerSecond) => {
        const nano = hfInferenceCostNano(ms, usdPerSecond);
        const { units, scale } = parseDecimal(usdPerSecond);
        // ms × units × 10^9 / 10^(3 + scale), rounded half-up: |exact - nano| ≤ half a nano-USD.
        const exact = BigInt(ms) * units * 10n ** 9n;
        const denominator = 10n ** BigInt(3 + scale);
        const twice = 2n * (exact - nano * denominator);
        return nano >= 0n && twice < denominator && twice >= -denominator;
      }),
    );
  });

  it('tokens: exact, never negative, whatever its size', () => {
    fc.assert(
      fc.property(count, count, price, price, (input, output, priceIn, priceOut) => {
        const nano = tokenCostNano(input, output, { input: priceIn, output: priceOut });
        const a = parseDecimal(priceIn);
        const b = parseDecimal(priceOut);
        const scale = Math.max(a.scale, b.scale);
        const total =
          BigInt(input) * a.units * 10n ** BigInt(scale - a.scale) +
          BigInt(output) * b.units * 10n ** BigInt(scale - b.scale);
        const exact = total * 1000n;
        const denominator = 10n ** BigInt(scale);
        const twice = 2n * (exact - nano * denominator);
        return nano >= 0n && twice < denominator && twice >= -denominator;
      }),
    );
  });
});
