import type { AccountSnapshot } from '@nanobill/contract';
import type { AccountHistory } from '@nanobill/attribution';
import {
  monthGrant,
  monthPlans,
  payAsYouGo,
  type PlanFacts,
  type PlanSnapshot,
} from '@nanobill/credits';
import type { NanoUsd } from '@nanobill/money';

/** An account without any snapshot is a free user (docs/contract.md §5). */
export const DEFAULT_FACTS: PlanFacts = { kind: 'user', plan: 'free' };

export function planFacts(snapshot: AccountSnapshot): PlanFacts {
  return snapshot.kind === 'org'
    ? { kind: 'org', plan: snapshot.plan, seats: snapshot.seats }
    : { kind: 'user', plan: snapshot.plan };
}

/** An account for one calendar month, as the credits rules and the limits see it. */
export interface AccountMonth {
  /** The facts in force at the instant asked about (DEFAULT_FACTS without a snapshot). */
  facts: PlanFacts;
  /** The snapshot in force then, if any: spending limit, disabled providers, webhook. */
  snapshot: AccountSnapshot | undefined;
  /** The month's credits: the largest grant held during the month. */
  grant: NanoUsd;
  /**
   * Pay-as-you-go at any moment of the month makes the whole month pay-as-you-go, like the
   * grant: a downgrade takes effect next month.
   */
  payAsYouGo: boolean;
}

/**
 * The account in `month`, with the facts in force at `at` (an instant of that month).
 *
 * Before a user's first snapshot takes effect the default facts hold (docs/contract.md §5: a free
 * user), also when that first snapshot is dated later in the month or in a later month: a user
 * always has at least the free grant. An org has no default facts: before its first snapshot no
 * request is billed to it (attribution needs its snapshot), and it holds no credits.
 */
export function accountMonth(
  history: AccountHistory,
  accountId: string,
  month: string,
  at: Date | number,
): AccountMonth {
  const snapshot = history.at(accountId, at);
  const plans: PlanSnapshot[] = history
    .history(accountId)
    .map((s) => ({ effectiveAt: s.effectiveAt, facts: planFacts(s) }));
  const isOrg = plans[0]?.facts.kind === 'org';
  const options = isOrg ? {} : { defaultFacts: DEFAULT_FACTS };
  return {
    facts: snapshot ? planFacts(snapshot) : DEFAULT_FACTS,
    snapshot,
    grant: monthGrant(plans, month, options),
    payAsYouGo: monthPlans(plans, month, options).some(payAsYouGo),
  };
}
