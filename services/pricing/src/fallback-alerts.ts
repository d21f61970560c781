import { alertIdPart, type Alert } from '@nanobill/contract';
import type { FallbackCause } from '@nanobill/attribution';
import type { LedgerRow } from '@nanobill/tables';

/** A ledger row billed to its user although `X-HF-Bill-To` named an org, and why. */
export interface Fallback {
  row: LedgerRow;
  cause: FallbackCause;
}

/**
 * The `attribution_fallback` alerts of a round's fallbacks, one per user, org
 * and month (the id repeats, so downstream keeps one):
 *
 * - to the user, who is billed: the same words whatever the cause, so the alert does not tell a
 *   user whether the org exists, who its members are or which plan it is on (the ledger's
 *   `attribution_reason`, for finance, keeps the precise reason);
 * - to the org named, when it is an org account: it learns that this user named it and why it
 *   was not billed, in terms of its own facts (its plan, its members), never the request id or
 *   anything else about the user.
 *
 * Every variable part of an id goes through `alertIdPart`: the header is the router user's
 * free text, up to 256 characters of anything.
 */
export function fallbackAlerts(fallbacks: Iterable<Fallback>, now: Date): Alert[] {
  const alerts = new Map<string, Alert>();
  for (const fallback of fallbacks) {
    for (const alert of [toUser(fallback, now), toOrg(fallback, now)]) {
      if (alert !== undefined && !alerts.has(alert.alertId)) alerts.set(alert.alertId, alert);
    }
  }
  return [...alerts.values()];
}

function subject({ row }: Fallback): { month: string; base: string } {
  const month = row.event_time.slice(0, 7);
  return {
    month,
    base: `attribution_fallback:${month}:${alertIdPart(row.bill_to ?? '')}:${alertIdPart(row.user_id)}`,
  };
}

function toUser(fallback: Fallback, now: Date): Alert {
  const { row } = fallback;
  const { month, base } = subject(fallback);
  const billTo = JSON.stringify(row.bill_to ?? '');
  return {
    schemaVersion: 1,
    alertId: base,
    type: 'attribution_fallback',
    severity: 'warning',
    accountId: row.user_id,
    message: `a request of ${JSON.stringify(row.user_id)} naming ${billTo} in X-HF-Bill-To was billed to the user: ${billTo} does not accept usage billed by this user`,
    details: { billTo: row.bill_to, userId: row.user_id, requestId: row.request_id, month },
    createdAt: now.toISOString(),
  };
}

/**
 * Only an org account hears of it: an unknown name, a name that cannot be an org's, or a user's
 * has nobody to tell.
 */
function toOrg(fallback: Fallback, now: Date): Alert | undefined {
  const { row, cause } = fallback;
  if ((cause !== 'free_org' && cause !== 'not_member') || row.bill_to === null) return undefined;
  const { month, base } = subject(fallback);
  const org = JSON.stringify(row.bill_to);
  const user = JSON.stringify(row.user_id);
  const why =
    cause === 'free_org'
      ? `${org} was on the free plan at the request's time (orgs are billed on team and enterprise)`
      : `${user} was not a member of ${org} at the request's time`;
  return {
    schemaVersion: 1,
    alertId: `${base}:org`,
    type: 'attribution_fallback',
    severity: 'info',
    accountId: row.bill_to,
    message: `a request of ${user} named ${org} in X-HF-Bill-To and was billed to the user, not to ${org}: ${why}`,
    details: { billTo: row.bill_to, userId: row.user_id, month, cause },
    createdAt: now.toISOString(),
  };
}
