// Types for money.js, a plain ES module served to the browser as is (no build step).

/** Nano-USD (decimal string of an integer, or a bigint) → exact USD text, e.g. "$1.2345". */
export function nanoToUsd(value: string | bigint, options?: { grouping?: boolean }): string;

/** USD text (e.g. "25.00", "$1,234.5") → nano-USD decimal string; throws RangeError when invalid. */
export function usdToNano(text: string): string;

/** Nano-USD → approximate USD number, for chart geometry only. */
export function nanoToUsdNumber(value: string | bigint): number;

/** Exact sum of nano-USD amounts, as a decimal string. */
export function sumNano(values: Iterable<string | bigint>): string;
