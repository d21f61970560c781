// @ts-check
// Text for people (no DOM): money with thousands separators, counts, chart ticks. Money goes
// through money.js's exact conversion; a malformed amount shows as "—", never as a wrong number.

import { nanoToUsd } from './money.js';

/**
 * Nano-USD → "$1,234.50"; "—" when it is not an integer amount.
 *
 * @param {unknown} nano a decimal string of an integer, or a bigint
 */
export function usd(nano) {
  try {
    return nanoToUsd(String(nano), { grouping: true });
  } catch {
    return '—';
  }
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * A count with thousands separators, "—" when it is not a number.
 *
 * @param {unknown} n
 */
export function count(n) {
  const value = Number(n);
  return Number.isFinite(value) ? integer.format(value) : '—';
}

/**
 * A chart tick (a float in USD chosen by Chart.js) as USD text via the nano path.
 *
 * @param {unknown} value
 */
export function usdTick(value) {
  const number = Number(value);
  if (!Number.isFinite(number)) return '';
  return nanoToUsd(BigInt(Math.round(number * 1e9)), { grouping: true });
}
