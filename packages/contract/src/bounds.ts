import { z } from 'zod';

/**
 * Bounds every value of the contract must respect so that a message zod accepts is always a row
 * ClickHouse stores as sent: no insert error that would hold a partition back, and no silent
 * wrap-around (ClickHouse stores 2^32 in a UInt32 as 0, 2^63 in an Int64 as -2^63).
 */

/** Largest UInt32 (`billing.account_snapshots.seats`). */
export const UINT32_MAX = 4_294_967_295;

/** Largest UInt16 (`billing.usage.status`). */
export const UINT16_MAX = 65_535;

/**
 * The range ClickHouse documents for `DateTime64` (every instant column): outside it a server
 * clamps or misreads the value (chdb reads year 0000 as 2026-01-01).
 */
export const DATETIME64_MIN = '1900-01-01T00:00:00.000Z';
export const DATETIME64_MAX = '2299-12-31T23:59:59.999Z';
const DATETIME64_MIN_MS = Date.parse(DATETIME64_MIN);
const DATETIME64_MAX_MS = Date.parse(DATETIME64_MAX);

/** Account ids and org names (docs/contract.md §5: the hub's names). */
export const MAX_ACCOUNT_ID_LENGTH = 96;
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9._-]{1,96}$/;

/** Whether a string is an account id or org name: letters, digits, `-`, `_`, `.`, 1–96 of them. */
export function isAccountId(value: string): boolean {
  return ACCOUNT_ID_PATTERN.test(value);
}

/** A lone UTF-16 surrogate: in `u` mode a well-formed pair is one code point and does not match. */
const LONE_SURROGATE = /\p{Surrogate}/u;

export const WELL_FORMED_ERROR = 'must be well-formed Unicode (no lone surrogate)';

/** Whether a string has a UTF-8 form (no lone surrogate); `String#isWellFormed` without ES2024 types. */
export function isWellFormed(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

/**
 * A string ClickHouse can store: well-formed UTF-16, i.e. no lone surrogate. JSON may carry one
 * (`"\ud800"` is valid JSON in valid UTF-8), but it has no UTF-8 form, and ClickHouse refuses the
 * whole insert that contains it (code 25, CANNOT_PARSE_ESCAPE_SEQUENCE).
 */
export function text(maxLength: number) {
  return z.string().min(1).max(maxLength).refine(isWellFormed, { error: WELL_FORMED_ERROR });
}

/** An account id or org name (`accountId`, `members`, an event's `userId`). */
export const accountId = z.string().regex(ACCOUNT_ID_PATTERN, {
  error: `must be 1 to ${MAX_ACCOUNT_ID_LENGTH} letters, digits, '-', '_' or '.'`,
});

/** An ISO-8601 UTC instant (`Z`, no offset) within the range of ClickHouse's `DateTime64`. */
export const utcInstant = z.iso
  .datetime({ offset: false, precision: undefined })
  .refine(
    (s) => {
      const ms = Date.parse(s);
      // Zod runs this check even when the format failed: only instants are compared.
      return Number.isNaN(ms) || (ms >= DATETIME64_MIN_MS && ms <= DATETIME64_MAX_MS);
    },
    { error: `must be between ${DATETIME64_MIN} and ${DATETIME64_MAX}` },
  )
  .describe(`ISO-8601 UTC instant (Z), between ${DATETIME64_MIN} and ${DATETIME64_MAX}`);
