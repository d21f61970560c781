import { formatUsd, NANO_PER_USD, type NanoUsd } from '@nanobill/money';
import { checkAccount, checkAmount, checkLimit, type AccountKind } from './check.js';

/** Threshold crossings that raise an alert (docs/contract.md §7), in the order ties are listed. */
export const CROSSING_KINDS = [
  'limit_50',
  'limit_80',
  'limit_100',
  'credits_exhausted',
  'pay_as_you_go_started',
  'spend_10_usd',
  'spend_100_usd',
  'spend_1000_usd',
] as const;
export type CrossingKind = (typeof CROSSING_KINDS)[number];

export interface Crossing {
  kind: CrossingKind;
  /** The month-to-date spend at which it is reached. */
  threshold: NanoUsd;
}

export interface CrossingContext {
  kind: AccountKind;
  plan: string;
  /** The month's credits. */
  grant: NanoUsd;
  /** The org's spending limit; orgs only. */
  limit?: NanoUsd;
  /** Usage past the credits is billed (`payAsYouGo` from @nanobill/credits). */
  payAsYouGo: boolean;
}

/** Shares of a spending limit that alert, as exact integer percentages. */
export const LIMIT_PERCENTS = [
  ['limit_50', 50n],
  ['limit_80', 80n],
  ['limit_100', 100n],
] as const satisfies readonly (readonly [CrossingKind, bigint])[];

/** Absolute month-to-date spend that alerts: $10, $100, $1,000. */
export const SPEND_THRESHOLDS = [
  ['spend_10_usd', 10n * NANO_PER_USD],
  ['spend_100_usd', 100n * NANO_PER_USD],
  ['spend_1000_usd', 1_000n * NANO_PER_USD],
] as const satisfies readonly (readonly [CrossingKind, NanoUsd])[];

/**
 * Every threshold that applies to the account this month, by threshold then CROSSING_KINDS:
 * - 50/80/100 % of the spending limit, when there is one. The threshold is the least spend
 *   with spend × 100 ≥ p × limit, i.e. ⌈p × limit / 100⌉, the same exact test `accountStatus`
 *   uses, so `limit_80` coincides with `warning` and `limit_100` with `blocked`.
 * - credits exhausted: spend reaches the grant, for every account whose grant is > 0.
 * - a payAsYouGo *user* (PRO) starting to pay as they go: the same moment as credits exhausted
 *   (from here on the next request is paid), a distinct kind. Orgs get credits_exhausted only
 *   (§7 names "a PRO user"). Needs a grant > 0, which PRO always has.
 * - $10, $100 and $1,000 of month-to-date spend, for every account.
 */
export function thresholdsFor(context: CrossingContext): Crossing[] {
  const account = checkAccount(context.kind, context.plan);
  const grant = checkAmount('grant', context.grant);
  const limit = checkLimit(account.kind, context.limit);
  if (typeof context.payAsYouGo !== 'boolean') {
    throw new TypeError('payAsYouGo must be a boolean');
  }
  const all: Crossing[] = [];
  if (limit !== undefined) {
    for (const [kind, percent] of LIMIT_PERCENTS) {
      all.push({ kind, threshold: (percent * limit + 99n) / 100n });
    }
  }
  if (grant > 0n) {
    all.push({ kind: 'credits_exhausted', threshold: grant });
    if (account.kind === 'user' && context.payAsYouGo) {
      all.push({ kind: 'pay_as_you_go_started', threshold: grant });
    }
  }
  for (const [kind, threshold] of SPEND_THRESHOLDS) all.push({ kind, threshold });
  // Stable: ties keep CROSSING_KINDS order.
  return all.sort((a, b) => (a.threshold < b.threshold ? -1 : a.threshold > b.threshold ? 1 : 0));
}

/**
 * The thresholds crossed when month-to-date spend goes from `before` to `after`: those with
 * before < threshold ≤ after, in ascending order. Several at once when spend jumps; none when
 * spend does not grow (after ≤ before, e.g. a price below its estimate). So over any increasing
 * sequence of spends each threshold is crossed at most once; a spend that falls back and rises
 * again can cross one twice, which `alertKey` (once per account, threshold and month) absorbs.
 * A threshold of 0 (a limit of 0) is reached before any spend and is never "crossed": the
 * status (blocked) says it.
 */
export function thresholdCrossings(
  before: NanoUsd,
  after: NanoUsd,
  context: CrossingContext,
): Crossing[] {
  checkAmount('before', before);
  checkAmount('after', after);
  return thresholdsFor(context).filter((t) => before < t.threshold && t.threshold <= after);
}

export interface CrossingDescription {
  severity: 'info' | 'warning' | 'critical';
  message: string;
}

/** Severity and a human-readable message (exact USD) for an alert about a crossing. */
export function describeCrossing(
  crossing: Crossing,
  context: CrossingContext,
): CrossingDescription {
  const at = formatUsd(crossing.threshold);
  const limit = context.limit === undefined ? '' : ` of ${formatUsd(context.limit)}`;
  switch (crossing.kind) {
    case 'limit_50':
      return {
        severity: 'info',
        message: `Month-to-date spend reached ${at}, 50% of the spending limit${limit}`,
      };
    case 'limit_80':
      return {
        severity: 'warning',
        message: `Month-to-date spend reached ${at}, 80% of the spending limit${limit}`,
      };
    case 'limit_100':
      return {
        severity: 'critical',
        message: `Month-to-date spend reached the spending limit${limit}: requests are blocked until the limit is raised or the month ends`,
      };
    case 'credits_exhausted':
      return context.payAsYouGo
        ? {
            severity: 'info',
            message: `The month's credits of ${at} are used up; further usage is paid as you go`,
          }
        : {
            severity: 'critical',
            message: `The month's credits of ${at} are used up; requests are blocked until next month`,
          };
    case 'pay_as_you_go_started':
      return {
        severity: 'info',
        message: `Credits of ${at} used up: you now pay as you go for further usage this month`,
      };
    case 'spend_10_usd':
    case 'spend_100_usd':
    case 'spend_1000_usd':
      return { severity: 'info', message: `Month-to-date spend passed ${at}` };
  }
}
