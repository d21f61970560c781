import type { AccountHistory } from '@nanobill/attribution';
import type { PlanFacts, PlanSnapshot } from '@nanobill/credits';
import type { AccountSnapshot } from '@nanobill/contract';

/** A user the hub never described is a free user (PRODUCT.md §5). */
export const DEFAULT_FACTS: PlanFacts = { kind: 'user', plan: 'free' };

export function planFacts(snapshot: AccountSnapshot): PlanFacts {
  return snapshot.kind === 'org'
    ? { kind: 'org', plan: snapshot.plan, seats: snapshot.seats }
    : { kind: 'user', plan: snapshot.plan };
}

export function planHistory(history: AccountHistory, accountId: string): PlanSnapshot[] {
  return history
    .history(accountId)
    .map((s) => ({ effectiveAt: s.effectiveAt, facts: planFacts(s) }));
}
