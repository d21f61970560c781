import { formatUsd, type NanoUsd } from '@nanobill/money';
import { checkAccount, checkAmount, checkLimit, type AccountKind } from './check.js';

export type { AccountKind } from './check.js';

/** Statuses in order of severity (docs/contract.md §6). */
export const STATUSES = ['ok', 'warning', 'blocked'] as const;
export type Status = (typeof STATUSES)[number];

/** What the status is measured against. */
export type StatusBasis = 'credits' | 'spending_limit' | 'none';

/** `warning` from this share of the limit or credits on (docs/contract.md §6), a whole percent. */
export const WARNING_PERCENT = 80n;

export interface AccountStatusInput {
  kind: AccountKind;
  plan: string;
  /** The month's credits (e.g. `monthGrant` from @nanobill/credits). */
  grant: NanoUsd;
  /** The org's monthly spending limit on gross routed cost; orgs only. */
  limit?: NanoUsd;
  /** Month-to-date gross routed spend, estimates of unpriced requests included. */
  spend: NanoUsd;
  /** The org's disabled providers, carried on the status for the router. */
  disabledProviders?: string[];
}

/**
 * The status the rules decide for an account; the contract's `AccountStatus` is the message that
 * publishes it (amounts capped, names spelled for the wire).
 */
export interface DecidedStatus {
  status: Status;
  /** Human-readable, with exact USD amounts. */
  reason: string;
  spend: NanoUsd;
  /** The spending limit or the grant that the status was measured against; absent for 'none'. */
  limit?: NanoUsd;
  basis: StatusBasis;
  /** Sorted, without duplicates, so that equal settings give equal statuses. */
  disabledProviders: string[];
}

/**
 * The account's status for the month (docs/contract.md §6). Thresholds are exact: `warning` when
 * spend × 100 ≥ 80 × limit, `blocked` when spend ≥ limit (so a limit of 0 blocks at once).
 *
 * - An org with a spending limit (any plan): measured against the limit, on gross spend
 *   (credits are not deducted first: §5 says the limit is "on gross routed cost").
 * - A free user: measured against the month's credits; free users have no pay-as-you-go.
 * - A PRO user, or a team/enterprise org without a limit: pays as it goes, never blocked.
 * - A free org without a limit: `ok`, basis 'none'. It has no credits and no pay-as-you-go,
 *   but it is never billed either: attribution bills an org only when it is team or
 *   enterprise (§5), so requests naming a free org fall back to the user, whose own status
 *   (free user: credits) is what stops them. Blocking it on "spend ≥ grant 0" would block
 *   an account that cannot spend. An admin may still set a limit on it; that is honoured.
 *
 * Throws on an unknown kind or plan, a negative or non-bigint amount, a limit on a user, or
 * disabled providers on a user (the account snapshot refuses both on users).
 */
export function accountStatus(input: AccountStatusInput): DecidedStatus {
  const account = checkAccount(input.kind, input.plan);
  const grant = checkAmount('grant', input.grant);
  const spend = checkAmount('spend', input.spend);
  const limit = checkLimit(account.kind, input.limit);
  const disabledProviders = normaliseProviders(account.kind, input.disabledProviders);

  if (account.kind === 'org' && limit !== undefined) {
    return measure(spend, limit, 'spending_limit', 'the spending limit', disabledProviders);
  }
  if (account.kind === 'user' && account.plan === 'free') {
    return measure(spend, grant, 'credits', "the month's credits", disabledProviders);
  }
  const reason =
    account.kind === 'user'
      ? `ok: PRO users pay as they go; month-to-date spend ${formatUsd(spend)} is not limited`
      : account.plan === 'free'
        ? `ok: a free org without a spending limit is never billed (requests naming it are ` +
          `billed to the user); month-to-date spend ${formatUsd(spend)}`
        : `ok: no spending limit set; month-to-date spend ${formatUsd(spend)}, ` +
          `usage past the credits is paid as you go`;
  return { status: 'ok', reason, spend, basis: 'none', disabledProviders };
}

function measure(
  spend: NanoUsd,
  limit: NanoUsd,
  basis: 'credits' | 'spending_limit',
  what: string,
  disabledProviders: string[],
): DecidedStatus {
  const of = `${what} of ${formatUsd(limit)}`;
  const spent = `month-to-date spend ${formatUsd(spend)}`;
  let status: Status;
  let reason: string;
  if (spend >= limit) {
    status = 'blocked';
    reason = `blocked: ${spent} has reached ${of}`;
  } else if (spend * 100n >= WARNING_PERCENT * limit) {
    status = 'warning';
    reason =
      `warning: ${spent} is at least ${WARNING_PERCENT}% of ${of} ` +
      `(${formatUsd(limit - spend)} left)`;
  } else {
    status = 'ok';
    reason = `ok: ${spent} is below ${WARNING_PERCENT}% of ${of}`;
  }
  return { status, reason, spend, limit, basis, disabledProviders };
}

function normaliseProviders(kind: AccountKind, providers: unknown): string[] {
  if (providers === undefined) return [];
  if (!Array.isArray(providers) || !providers.every((p) => typeof p === 'string' && p !== '')) {
    throw new TypeError('disabledProviders must be an array of non-empty strings');
  }
  if (kind !== 'org' && providers.length > 0) {
    throw new RangeError('only orgs have disabled providers');
  }
  return [...new Set(providers as string[])].sort();
}

/** 0 for ok, 1 for warning, 2 for blocked. */
export function statusRank(status: Status): number {
  const rank = STATUSES.indexOf(status);
  if (rank < 0) throw new RangeError(`unknown status ${JSON.stringify(status)}`);
  return rank;
}

/**
 * Whether `next` is worth publishing after `previous` (docs/contract.md §6: "each change is
 * published"): the status, basis, limit or disabled providers differ. Spend alone (and the
 * reason, which quotes it) is not a change, or every request would publish one.
 */
export function statusChanged(previous: DecidedStatus | undefined, next: DecidedStatus): boolean {
  if (previous === undefined) return true;
  return (
    previous.status !== next.status ||
    previous.basis !== next.basis ||
    previous.limit !== next.limit ||
    previous.disabledProviders.length !== next.disabledProviders.length ||
    previous.disabledProviders.some((p, i) => p !== next.disabledProviders[i])
  );
}
