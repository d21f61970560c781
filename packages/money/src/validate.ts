import { INT64_MAX, type NanoUsd } from './nano.js';

export type ParseNanoUsdResult = { ok: true; value: NanoUsd } | { ok: false; reason: string };

export interface ParseNanoUsdOptions {
  /**
   * Accept a decimal string of digits (default true), the form docs/contract.md §1/§5 allow for
   * amounts beyond 2^53. The provider cost API sends JSON numbers only, so it passes false and a
   * string cost becomes a rejected fault.
   */
  allowString?: boolean;
}

// Digits only, no sign, no point, no leading zeros except "0" itself: one spelling per amount.
const DIGITS = /^(0|[1-9]\d*)$/;

/**
 * Validates a non-negative nano-USD amount that arrived in JSON: a non-negative safe-integer
 * number, or (unless disallowed) a canonical decimal string ≤ 2^63-1 (ClickHouse Int64).
 * Never throws; the reason names the problem for DLQs, quarantine and metrics.
 */
export function parseNanoUsd(
  value: unknown,
  options: ParseNanoUsdOptions = {},
): ParseNanoUsdResult {
  const { allowString = true } = options;
  if (typeof value === 'number') return fromNumber(value);
  if (typeof value === 'string') {
    if (!allowString) return fail(`a string is not a number here (${JSON.stringify(value)})`);
    return fromString(value);
  }
  const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return fail(`not a number${allowString ? ' or decimal string' : ''} (got ${got})`);
}

function fromNumber(n: number): ParseNanoUsdResult {
  if (!Number.isFinite(n)) return fail(`not a finite number (${String(n)})`);
  if (n < 0) return fail(`negative (${String(n)})`);
  if (!Number.isInteger(n)) return fail(`not an integer (${String(n)})`);
  if (!Number.isSafeInteger(n)) {
    return fail(`not a safe integer (JSON numbers above 2^53 lose precision) (${String(n)})`);
  }
  return { ok: true, value: BigInt(n) }; // BigInt(-0) is 0n
}

function fromString(s: string): ParseNanoUsdResult {
  const shown = JSON.stringify(s);
  if (!DIGITS.test(s)) {
    if (s === '') return fail('empty string');
    if (/^-\d/.test(s)) return fail(`negative (${shown})`);
    if (/^\d+\.\d*$/.test(s)) return fail(`not an integer (${shown})`);
    if (/^\d+$/.test(s)) return fail(`leading zeros (${shown})`);
    return fail(`not a decimal string of digits (${shown})`);
  }
  // 19 digits hold 2^63-1; checking length first keeps BigInt() off absurdly long input.
  if (s.length > 19 || BigInt(s) > INT64_MAX)
    return fail(`above 2^63-1, the Int64 maximum (${shown})`);
  return { ok: true, value: BigInt(s) };
}

function fail(reason: string): ParseNanoUsdResult {
  return { ok: false, reason };
}
