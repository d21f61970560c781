import { alertIdPart, type Alert } from '@nanobill/contract';
import { webhookOrigin } from '@nanobill/webhooks';
import type { DeliveryJob } from './deliveries.js';

/** On-call's alert: the webhook's origin only (its path may be a secret of the org's). */
export function deliveryFailing(job: DeliveryJob, error: string | null, at: Date): Alert {
  const origin = webhookOrigin(job.url);
  return {
    schemaVersion: 1,
    alertId: `webhook_delivery_failing:${alertIdPart(job.alertId)}`,
    type: 'webhook_delivery_failing',
    severity: 'warning',
    ...(job.accountId === null ? {} : { accountId: job.accountId }),
    message: `alert ${job.alertId} could not be delivered to ${origin} after ${job.attempt} attempts: ${error ?? 'unknown error'}`,
    details: { alertId: job.alertId, origin, attempts: job.attempt, lastError: error },
    createdAt: at.toISOString(),
  };
}

/** The alert of a dead-letter topic that grew (its id comes from `DlqWatch`). */
export function dlqGrowth(
  topic: string,
  growth: { alertId: string; grew: bigint; window: string },
  end: bigint,
  at: Date,
): Alert {
  return {
    schemaVersion: 1,
    alertId: growth.alertId,
    type: 'dlq_growth',
    severity: 'warning',
    message: `${growth.grew} new message(s) on the dead-letter topic ${topic}: rejected input waits for a fix and a replay`,
    details: { topic, grew: growth.grew.toString(), total: end.toString(), window: growth.window },
    createdAt: at.toISOString(),
  };
}
