// Exact decimals for prices from configuration. A JSON number such as 0.00012 is not exactly
// representable as a double, but its shortest round-trip form `String(n)` is exactly the text
// the JSON file contained, so parsing that text gives the price the operator wrote down.

/** The exact value `units × 10^-scale`. `scale` is never negative; trailing zeros are kept. */
export interface Decimal {
  units: bigint;
  scale: number;
}

// Optional "-", digits, optional fraction, optional exponent. No "+", no ".5", no "5.", no
// spaces: anything looser is more likely a typo in a config file than a price.
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

// Doubles span about 1e-324 … 1e308; beyond this an exponent is a mistake, and a huge one
// would make us build a gigantic bigint.
const MAX_EXPONENT = 1000;

export function parseDecimal(input: string | number): Decimal {
  const text = toText(input);
  const match = DECIMAL.exec(text);
  if (!match) throw new Error(`not a decimal number: ${JSON.stringify(text)}`);
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = match;
  const exponent = Number.parseInt(exponentText, 10);
  if (Math.abs(exponent) > MAX_EXPONENT) {
    throw new Error(`decimal exponent out of range: ${JSON.stringify(text)}`);
  }
  let units = BigInt(whole + fraction);
  // Only integer bookkeeping of digit counts here: the value itself stays a bigint.
  let scale = fraction.length - exponent;
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units: sign === '-' ? -units : units, scale };
}

function toText(input: string | number): string {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new Error(`not a finite number: ${String(input)}`);
    return String(input);
  }
  if (typeof input === 'string') return input;
  throw new Error(`not a decimal number: ${String(input)} (${typeof input})`);
}
