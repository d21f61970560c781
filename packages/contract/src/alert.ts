import { z } from 'zod';
import { ALERT_ID_PATTERN } from './alert-id.js';

/**
 * Alert types, one registry (docs/contract.md §7). `spend_threshold` carries the crossing
 * (50/80/100 % of a limit, credits exhausted, pay-as-you-go started, $10/$100/$1,000) in
 * `details.threshold`; the last four are for on-call: webhooks that keep failing, dead-letter
 * topics that grow, rows ClickHouse refuses to store (the pricing service keeps those requests
 * pending meanwhile), an account whose status enforcement could not decide (the others are
 * decided), and the audit finding the books out of balance (docs/finance.md "Audit: the books
 * checked").
 */
export const ALERT_TYPES = [
  'spend_threshold',
  'unpriced_requests',
  'cost_endpoint_failing',
  'attribution_fallback',
  'webhook_delivery_failing',
  'dlq_growth',
  'storage_refused',
  'account_decision_failed',
  'books_out_of_balance',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

/**
 * An alert on `billing.alerts.v1` (key: `alertId`). `alertId` is deterministic, so a re-sent alert
 * can be recognised downstream: it names the type, the subject and the period, each variable part
 * through `alertIdPart` (so it is always 1–256 visible ASCII characters, `ALERT_ID_PATTERN`).
 */
export const Alert = z.object({
  schemaVersion: z.literal(1),
  alertId: z
    .string()
    .regex(ALERT_ID_PATTERN, { error: 'must be 1 to 256 visible ASCII characters' }),
  type: z.enum(ALERT_TYPES),
  severity: z.enum(['info', 'warning', 'critical']),
  accountId: z.string().min(1).optional(),
  provider: z.string().min(1).optional(),
  message: z.string().min(1),
  details: z.record(z.string(), z.unknown()),
  createdAt: z.iso.datetime(),
});
export type Alert = z.infer<typeof Alert>;
