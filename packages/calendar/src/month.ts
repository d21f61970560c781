// Calendar months in UTC (docs/contract.md §5: "calendar month, UTC") and the instants snapshots
// are effective at. No Date.parse: engines accept sloppy strings ("2024-02-30" becomes March 1st,
// a date-time without a zone is read as *local* time), and either would silently move a plan
// change into another month.

export interface MonthBounds {
  /** The month's first instant (inclusive). */
  start: Date;
  /** The next month's first instant (exclusive). */
  end: Date;
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** Throws unless `month` is 'YYYY-MM' (years 0000–9999, months 01–12). */
export function checkMonth(month: string): string {
  if (typeof month !== 'string' || !MONTH.test(month)) {
    throw new RangeError(`month must be 'YYYY-MM', got ${JSON.stringify(month)}`);
  }
  return month;
}

/** The UTC bounds of a 'YYYY-MM' month: [start, end). */
export function monthBounds(month: string): MonthBounds {
  const match = MONTH.exec(checkMonth(month));
  const year = Number(match?.[1]);
  const monthIndex = Number(match?.[2]) - 1;
  return { start: utc(year, monthIndex, 1), end: utc(year, monthIndex + 1, 1) };
}

/** The UTC calendar month ('YYYY-MM') an instant falls in. */
export function monthOf(date: Date | string): string {
  const instant = toInstant(date);
  const year = instant.getUTCFullYear();
  if (year < 0 || year > 9999) {
    throw new RangeError(`year ${year} does not fit 'YYYY-MM' (${instant.toISOString()})`);
  }
  const month = instant.getUTCMonth() + 1;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`;
}

// Full ISO-8601 date-time with an explicit zone: 'Z' or ±hh:mm. Seconds and fraction optional.
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/**
 * An instant from a Date or a strict ISO-8601 UTC/offset string. Throws on an invalid Date, a
 * string without a zone, or an impossible calendar date or time (Feb 30th, 24:00, 23:60).
 * Fractions beyond milliseconds are truncated, which never moves an instant across a month
 * boundary (boundaries are whole milliseconds).
 */
export function toInstant(value: Date | string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new RangeError('invalid Date');
    return value;
  }
  if (typeof value !== 'string') {
    throw new TypeError(`expected a Date or an ISO-8601 string, got ${typeof value}`);
  }
  const m = INSTANT.exec(value);
  if (!m) throw new RangeError(`not an ISO-8601 date-time with a zone: ${JSON.stringify(value)}`);
  const [
    ,
    y = '',
    mo = '',
    d = '',
    h = '',
    mi = '',
    s = '0',
    fraction = '',
    z,
    sign,
    oh = '0',
    om = '0',
  ] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const offsetHours = Number(oh);
  const offsetMinutes = Number(om);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month - 1) ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    (z === undefined && (offsetHours > 23 || offsetMinutes > 59))
  ) {
    throw new RangeError(`impossible date or time: ${JSON.stringify(value)}`);
  }
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3));
  const local = utc(year, month - 1, day, hour, minute, second, millis).getTime();
  const offset = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return new Date(local - offset);
}

function daysInMonth(year: number, monthIndex: number): number {
  return utc(year, monthIndex + 1, 0).getUTCDate();
}

// Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not.
function utc(year: number, monthIndex: number, day: number, h = 0, mi = 0, s = 0, ms = 0): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day);
  date.setUTCHours(h, mi, s, ms);
  return date;
}
