import { isAccountId } from '@nanobill/contract';
import { instant, type AccountHistory } from './history.js';

/** How long a request may wait for account facts that have not arrived (docs/contract.md §5). */
export const DEFAULT_GRACE_MS = 5 * 60 * 1000;

/** Why a request naming an org in `X-HF-Bill-To` was billed to its user instead. */
export type FallbackCause = 'invalid_org_name' | 'unknown_org' | 'free_org' | 'not_member';

/** Who pays for one request. */
export type Attribution =
  | { decision: 'org'; accountId: string; reason: '' }
  | { decision: 'user'; accountId: string; reason: '' }
  | { decision: 'user_fallback'; accountId: string; reason: string; cause: FallbackCause }
  | {
      decision: 'wait';
      reason: string;
      /** The account whose snapshot is missing. */
      waitingFor: string;
      /** When the grace ends: asked again at or after this instant, the answer is final. */
      until: Date;
    };

export type Decision = Attribution['decision'];

/** A final answer: what a ledger row records. */
export type Billed = Exclude<Attribution, { decision: 'wait' }>;

export interface AttributionRequest {
  userId: string;
  /** The `X-HF-Bill-To` header value; absent, null or '' when none was sent. */
  billTo?: string | null;
  /** When the request finished at the router: the instant the rules look at. */
  timestamp: string | Date;
}

export interface AttributionOptions {
  /** The current time: only used to tell whether the grace period is over. */
  now: Date;
  /** Default `DEFAULT_GRACE_MS` (5 minutes). */
  graceMs?: number;
}

/**
 * The one place that decides who pays for a request (docs/contract.md §5): the org named in
 * `billTo` only when the user was its member at the request's timestamp and the org was on `team`
 * or `enterprise` then; otherwise the user. Pure: the same request, history and `now` always give
 * the same answer, whatever order the history was fed in.
 *
 * `wait` is the only answer that depends on `now`, and only until `until`; after that the
 * answer changes only if a snapshot back-dated to the request's time arrives late (a producer
 * error), so a caller may store it.
 */
export function attribute(
  request: AttributionRequest,
  history: AccountHistory,
  options: AttributionOptions,
): Attribution {
  const t = instant(request.timestamp);
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  // Young: facts published around the request's time may still be on their way.
  const young = instant(options.now) - t < graceMs;
  const when = new Date(t).toISOString();
  const { userId } = request;
  const billTo = request.billTo ? request.billTo : undefined;

  const waitFor = (accountId: string, what: string): Attribution => ({
    decision: 'wait',
    reason: `no snapshot of ${what} '${accountId}' yet for the request at ${when}; waiting until ${new Date(t + graceMs).toISOString()}`,
    waitingFor: accountId,
    until: new Date(t + graceMs),
  });
  // The user pays: their plan decides their credits, so a brand-new user is waited for; after
  // the grace, a user without snapshot is a free user (docs/contract.md §5) and still pays.
  const billUser = (fallback?: { cause: FallbackCause; reason: string }): Attribution => {
    if (young && !history.has(userId)) return waitFor(userId, 'user');
    if (fallback === undefined) return { decision: 'user', accountId: userId, reason: '' };
    return { decision: 'user_fallback', accountId: userId, ...fallback };
  };

  // No X-HF-Bill-To: the user pays, nothing to check.
  if (billTo === undefined) return billUser();
  // Not an org name at all (docs/contract.md §5: letters, digits, '-', '_', '.', at most 96): no
  // org can have it, so it is neither looked up nor waited for. Not bad input either: the user
  // pays, flagged. The reason does not repeat the header (it may hold control characters).
  if (!isAccountId(billTo)) {
    return billUser({
      cause: 'invalid_org_name',
      reason: `bill_to is not a valid org name (1 to 96 letters, digits, '-', '_' or '.'); billed to user '${userId}'`,
    });
  }

  const org = history.at(billTo, t);
  // Member of a paying org at the request's time: the org pays. Nothing else is needed, not
  // even the user's own snapshot.
  if (
    org !== undefined &&
    org.kind === 'org' &&
    (org.plan === 'team' || org.plan === 'enterprise') &&
    history.isMember(billTo, userId, t)
  ) {
    return { decision: 'org', accountId: billTo, reason: '' };
  }
  // Never heard of the account yet, and the request is young: its first snapshot may be on its
  // way. (If it has snapshots, just none in force at t, waiting would not change the answer.)
  if (young && !history.has(billTo)) return waitFor(billTo, 'org');

  // Otherwise the user pays, and the reason is written down (the ledger row is flagged).
  if (org === undefined) {
    return billUser({
      cause: 'unknown_org',
      reason: `X-HF-Bill-To names '${billTo}', which was not a known org at ${when}; billed to user '${userId}'`,
    });
  }
  if (org.kind !== 'org') {
    return billUser({
      cause: 'unknown_org',
      reason: `X-HF-Bill-To names '${billTo}', which is a user account, not an org; billed to user '${userId}'`,
    });
  }
  // A free org has no credits or billing to charge: orgs pay only on team and enterprise.
  if (org.plan === 'free') {
    return billUser({
      cause: 'free_org',
      reason: `org '${billTo}' was on the free plan at ${when}; billed to user '${userId}'`,
    });
  }
  // An org is never billed for a non-member's request (joined later, left before, never).
  return billUser({
    cause: 'not_member',
    reason: `user '${userId}' was not a member of org '${billTo}' at ${when}; billed to the user`,
  });
}
