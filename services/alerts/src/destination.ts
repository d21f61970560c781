import type { AccountHistory } from '@nanobill/attribution';
import type { Alert, AlertType } from '@nanobill/contract';

/** Alerts about an account's own spending and billing go to that account's webhook (§7). */
export const ACCOUNT_ALERT_TYPES: ReadonlySet<AlertType> = new Set([
  'spend_threshold',
  'attribution_fallback',
]);

/**
 * Where an alert is delivered: the account's `alertWebhookUrl` in force now for account alerts,
 * the operations webhook (if configured) for the others; undefined when nowhere.
 */
export function destinationOf(
  alert: Alert,
  history: AccountHistory,
  now: Date,
  opsWebhookUrl: string | undefined,
): string | undefined {
  if (!ACCOUNT_ALERT_TYPES.has(alert.type)) return opsWebhookUrl;
  if (alert.accountId === undefined) return undefined;
  return history.at(alert.accountId, now)?.alertWebhookUrl;
}

/**
 * Where a logged alert is delivered. The log (which finance can read) keeps an operations
 * alert's webhook as its origin only: that URL is an operator's credential (a Slack-style hook),
 * so operations deliveries take the configured URL, now as after a restart.
 */
export function deliveryUrl(
  type: string,
  logged: string | null,
  opsWebhookUrl: string | undefined,
): string | undefined {
  if (logged === null) return undefined;
  return ACCOUNT_ALERT_TYPES.has(type as AlertType) ? logged : opsWebhookUrl;
}
