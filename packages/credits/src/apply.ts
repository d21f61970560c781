import type { NanoUsd } from '@nanobill/money';

export interface CreditsInput {
  /** Gross routed cost of the month (may be negative only through a correction, see below). */
  gross: NanoUsd;
  /** The month's grant (`monthGrant`), ≥ 0. */
  grant: NanoUsd;
  /** Whether usage past the credits is billed (`payAsYouGo(facts)`). */
  payAsYouGo: boolean;
}

export interface CreditsResult {
  creditsApplied: NanoUsd;
  payable: NanoUsd;
  writtenOff: NanoUsd;
}

/**
 * Credits against a month's gross (docs/contract.md §5): creditsApplied = min(gross, grant).
 * - Pay-as-you-go (PRO users, Team/Enterprise orgs): payable = gross − creditsApplied,
 *   writtenOff = 0.
 * - Otherwise (free users, and free orgs, which have neither credits nor pay-as-you-go):
 *   payable = 0, writtenOff = gross − creditsApplied (the overrun we absorb).
 * So always creditsApplied + payable + writtenOff = gross, and with gross ≥ 0 all three are
 * ≥ 0. A negative gross (a correction larger than the month's usage) applies no credits
 * (credits are never "un-applied"): it becomes a negative payable (owed to the customer) or a
 * negative write-off (a reversed write-off).
 */
export function applyCredits({ gross, grant, payAsYouGo }: CreditsInput): CreditsResult {
  if (typeof gross !== 'bigint') throw new TypeError(`gross must be a bigint, got ${typeof gross}`);
  if (typeof grant !== 'bigint') throw new TypeError(`grant must be a bigint, got ${typeof grant}`);
  if (grant < 0n) throw new RangeError(`grant must be non-negative, got ${grant}`);
  if (typeof payAsYouGo !== 'boolean') {
    throw new TypeError(`payAsYouGo must be a boolean, got ${typeof payAsYouGo}`);
  }
  const creditsApplied = gross <= 0n ? 0n : gross < grant ? gross : grant;
  const rest = gross - creditsApplied;
  return payAsYouGo
    ? { creditsApplied, payable: rest, writtenOff: 0n }
    : { creditsApplied, payable: 0n, writtenOff: rest };
}
