import type { NanoUsd } from '@nanobill/money';

// Plans and their monthly grants (docs/contract.md §5, from the router's "Free Credits to Get
// Started" table): free user $0.10, PRO user $2.00, Team/Enterprise org $2.00 per seat, shared by
// its members. Extra usage (pay-as-you-go) only for PRO users and Team/Enterprise orgs.

export type UserPlan = 'free' | 'pro';
export type OrgPlan = 'free' | 'team' | 'enterprise';

/** What an account snapshot says that matters for credits. */
export type PlanFacts =
  { kind: 'user'; plan: UserPlan } | { kind: 'org'; plan: OrgPlan; seats: number };

export const USER_PLANS: readonly UserPlan[] = ['free', 'pro'];
export const ORG_PLANS: readonly OrgPlan[] = ['free', 'team', 'enterprise'];

/** $0.10 a month for a free user ("subject to change", says the router: change it here only). */
export const FREE_USER_GRANT: NanoUsd = 100_000_000n;
/** $2.00 a month for a PRO user. */
export const PRO_USER_GRANT: NanoUsd = 2_000_000_000n;
/** $2.00 a month per seat of a Team or Enterprise org. */
export const ORG_SEAT_GRANT: NanoUsd = 2_000_000_000n;

/**
 * The monthly grant while these facts hold. Throws on facts the types do not allow (an unknown
 * plan, seats that are not a non-negative safe integer), since they can come from untyped JSON.
 */
export function grantAt(facts: PlanFacts): NanoUsd {
  const checked = checkFacts(facts);
  if (checked.kind === 'user') return checked.plan === 'pro' ? PRO_USER_GRANT : FREE_USER_GRANT;
  switch (checked.plan) {
    case 'team':
    case 'enterprise':
      return ORG_SEAT_GRANT * BigInt(checked.seats);
    case 'free':
      // A free (non-paying) org plan has no credits: the router grants credits to free *users*
      // and to Team/Enterprise orgs only. Its members' requests are billed to themselves
      // anyway (docs/contract.md §5 attribution needs a team/enterprise org).
      return 0n;
  }
}

/**
 * Whether usage past the credits is billed (pay-as-you-go): PRO users and Team/Enterprise orgs.
 * Free users are not; neither are free orgs (the router lists pay-as-you-go for PRO and
 * Team/Enterprise only), which are therefore treated like free users: nothing payable.
 */
export function payAsYouGo(facts: PlanFacts): boolean {
  const checked = checkFacts(facts);
  if (checked.kind === 'user') return checked.plan === 'pro';
  return checked.plan === 'team' || checked.plan === 'enterprise';
}

/** Runtime check of facts that may come from untyped input; returns them unchanged. */
export function checkFacts(facts: PlanFacts): PlanFacts {
  if (typeof facts !== 'object' || facts === null) {
    throw new TypeError(
      `plan facts must be an object, got ${facts === null ? 'null' : typeof facts}`,
    );
  }
  if (facts.kind === 'user') {
    if (!USER_PLANS.includes(facts.plan)) {
      throw new RangeError(`unknown user plan ${JSON.stringify(facts.plan)}`);
    }
    return facts;
  }
  if (facts.kind === 'org') {
    if (!ORG_PLANS.includes(facts.plan)) {
      throw new RangeError(`unknown org plan ${JSON.stringify(facts.plan)}`);
    }
    if (typeof facts.seats !== 'number' || !Number.isSafeInteger(facts.seats) || facts.seats < 0) {
      throw new RangeError(
        `org seats must be a non-negative safe integer, got ${String(facts.seats)}`,
      );
    }
    return facts;
  }
  throw new RangeError(`unknown account kind ${JSON.stringify((facts as { kind: unknown }).kind)}`);
}
