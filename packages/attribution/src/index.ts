export type Attribution = 'org' | 'user' | 'user_fallback';

export interface BilledAccount {
  accountId: string;
  attribution: Attribution;
  /** Why a request naming an org was billed to its user instead; '' otherwise. */
  reason: string;
}

/**
 * The one place that decides who pays for a request. For now the org named in `billTo`, else
 * the user; the accounts issue adds membership and plan at the request's time (PRODUCT.md §5).
 */
export function billedAccount(request: { userId: string; billTo?: string | null }): BilledAccount {
  if (request.billTo) return { accountId: request.billTo, attribution: 'org', reason: '' };
  return { accountId: request.userId, attribution: 'user', reason: '' };
}
