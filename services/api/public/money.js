// @ts-check
// Exact money for the dashboard (docs/contract.md §1): amounts travel as decimal strings of
// nano-USD (1e-9 USD) and are converted with string and BigInt arithmetic only, never through
// floats. `nanoToUsdNumber` is the one approximate conversion, for chart geometry only.

const NANO_PER_USD = 1_000_000_000n;
const DECIMALS = 9;
const MIN_DECIMALS = 2;

/**
 * Nano-USD (decimal string of an integer, or a bigint) → USD text, exact: "1234500000" →
 * "$1.2345", "0" → "$0.00", "-5" → "-$0.000000005". Up to 9 decimals, trailing zeros trimmed but
 * at least 2 kept. With `{ grouping: true }` the whole dollars get thousands separators
 * ("$1,234.50"); `usdToNano` reads both forms back.
 *
 * @param {string | bigint} value
 * @param {{ grouping?: boolean }} [options]
 * @returns {string}
 */
export function nanoToUsd(value, options = {}) {
  const nano = toBigInt(value);
  const negative = nano < 0n;
  const abs = negative ? -nano : nano;
  let whole = (abs / NANO_PER_USD).toString();
  let fraction = (abs % NANO_PER_USD).toString().padStart(DECIMALS, '0').replace(/0+$/, '');
  if (fraction.length < MIN_DECIMALS) fraction = fraction.padEnd(MIN_DECIMALS, '0');
  if (options.grouping) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}$${whole}.${fraction}`;
}

/**
 * USD text → nano-USD as a decimal string of an integer, exact: "25.00" → "25000000000",
 * "$0.0012" → "1200000", "1,234.5" → "1234500000000". Accepts an optional leading "-" and "$",
 * thousands separators in groups of three, and at most 9 decimals; anything else (empty text,
 * exponents, a 10th decimal) throws a RangeError whose message can be shown to the user.
 *
 * @param {string} text
 * @returns {string}
 */
export function usdToNano(text) {
  if (typeof text !== 'string') throw new TypeError('amount must be text');
  const match = /^(-)?\s*\$?\s*(\d{1,3}(?:,\d{3})+|\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (match === null) throw new RangeError('Enter an amount in USD, like 25.00');
  const [, sign, wholeText = '', fractionText = ''] = match;
  const whole = wholeText.replaceAll(',', '');
  if (whole === '' && fractionText === '') {
    throw new RangeError('Enter an amount in USD, like 25.00');
  }
  if (fractionText.length > DECIMALS) {
    throw new RangeError('At most 9 decimals: amounts are exact to the nano-dollar');
  }
  const nano =
    BigInt(whole === '' ? '0' : whole) * NANO_PER_USD + BigInt(fractionText.padEnd(DECIMALS, '0'));
  return (sign === '-' ? -nano : nano).toString();
}

/**
 * Nano-USD → USD as a JavaScript number. APPROXIMATE: for chart geometry only (bar heights,
 * axis scale), never for text a person reads.
 *
 * @param {string | bigint} value
 * @returns {number}
 */
export function nanoToUsdNumber(value) {
  const nano = toBigInt(value);
  // Split first so the whole-dollar part stays exact as long as it is a safe integer.
  return Number(nano / NANO_PER_USD) + Number(nano % NANO_PER_USD) / 1e9;
}

/**
 * Sum of nano-USD decimal strings (or bigints), as a decimal string.
 *
 * @param {Iterable<string | bigint>} values
 * @returns {string}
 */
export function sumNano(values) {
  let total = 0n;
  for (const value of values) total += toBigInt(value);
  return total.toString();
}

/** @param {string | bigint} value */
function toBigInt(value) {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new RangeError(`not a nano-USD integer: ${String(value)}`);
}
