import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Alert } from '@nanobill/contract';
import type { Logger } from '@nanobill/observability';
import type { RetryPolicy } from '@nanobill/retry';
import { webhookOrigin, type DeliveryOutcome, type WebhookSender } from '@nanobill/webhooks';
import { afterAttempt, type DeliveryJob, type DeliveryQueue } from './deliveries.js';
import { ACCOUNT_ALERT_TYPES } from './destination.js';
import type { AlertsMetrics } from './metrics.js';
import { deliveryFailing } from './ops-alerts.js';
import { recordAttempt } from './store.js';

export interface DeliveryWorkerOptions {
  queue: DeliveryQueue;
  sender: Pick<WebhookSender, 'send'>;
  /** The secrets a delivery is signed with; a throw is a failed (retried) attempt. */
  secretsFor(job: DeliveryJob): Promise<string[]>;
  /** Where each attempt is recorded (`billing.alert_deliveries`). */
  clickhouse: ClickHouseClient;
  retry: RetryPolicy;
  /** Raises an operations alert (an account's webhook that keeps failing). */
  raise(alert: Alert): Promise<void>;
  metrics: AlertsMetrics;
  logger: Logger;
  now: () => Date;
  /** How often due deliveries are looked for. */
  pollMs: number;
  /** Attempts in flight at once. */
  concurrency: number;
}

/** What a delivery records when the account's signing secret cannot be had (retried). */
const SECRET_UNAVAILABLE = 'signing secret unavailable';

/**
 * Delivers the queue's due jobs, at most `concurrency` at once: each attempt signed, sent,
 * recorded, then settled in the queue (retried with backoff, or abandoned). Whatever happens in
 * an attempt stays there. `stop()` stops taking jobs at once and resolves when the attempts in
 * flight are recorded; waiting ones resume at the next start.
 */
export function startDeliveryWorker(options: DeliveryWorkerOptions): { stop(): Promise<void> } {
  const { queue, metrics } = options;
  let inFlight = 0;
  const poll = () => {
    for (const job of queue.due(Date.now(), options.concurrency - inFlight)) {
      inFlight++;
      void attemptIsolated(options, job).finally(() => {
        inFlight--;
        metrics.queued.set(queue.size);
      });
    }
  };
  const poller = setInterval(poll, options.pollMs);
  return {
    stop() {
      clearInterval(poller);
      return (async () => {
        while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      })();
    },
  };
}

/** Whatever happens in an attempt stays there: the job is tried again later, the rest go on. */
function attemptIsolated(options: DeliveryWorkerOptions, job: DeliveryJob): Promise<void> {
  return attempt(options, job).catch((err: unknown) => {
    options.logger.error({ err, alertId: job.alertId }, 'delivery attempt failed unexpectedly');
    options.queue.release(job, Date.now() + options.retry.maxDelayMs);
  });
}

async function attempt(options: DeliveryWorkerOptions, job: DeliveryJob): Promise<void> {
  const { queue, metrics, logger, retry } = options;
  const result = await sign(options, job);
  const record = afterAttempt(job, result, Date.now(), retry);
  try {
    await recordAttempt(options.clickhouse, record);
  } catch (err) {
    logger.error({ err, alertId: job.alertId }, 'could not record a delivery attempt');
    queue.release(job, Date.now() + retry.baseDelayMs);
    return;
  }
  queue.settle(record);
  metrics.attempts.inc({ outcome: record.outcome });
  if (result.error !== null) metrics.failures.inc({ error: result.error });
  // The origin only: a webhook URL's path often carries a token of its own.
  const fields = {
    alertId: job.alertId,
    origin: webhookOrigin(job.url),
    attempt: job.attempt,
    error: result.error,
  };
  if (record.outcome === 'delivered') logger.info(fields, 'alert delivered');
  else if (record.outcome === 'retrying') logger.warn(fields, 'alert delivery failed; retrying');
  else {
    logger.error(fields, 'alert delivery abandoned');
    // An account's webhook that keeps failing is on-call's to see; an operations webhook
    // failing is only logged (its alert would go to that same webhook).
    if (ACCOUNT_ALERT_TYPES.has(job.type as Alert['type'])) {
      await options
        .raise(deliveryFailing(job, result.error, options.now()))
        .catch((err: unknown) =>
          logger.error({ err, alertId: job.alertId }, 'could not raise webhook_delivery_failing'),
        );
    }
  }
}

async function sign(options: DeliveryWorkerOptions, job: DeliveryJob): Promise<DeliveryOutcome> {
  let secrets: string[];
  try {
    secrets = await options.secretsFor(job);
  } catch (err) {
    options.logger.error({ err, alertId: job.alertId }, 'no signing secret for a delivery');
    return { ok: false, status: null, error: SECRET_UNAVAILABLE, durationMs: 0, retryable: true };
  }
  return options.sender.send({
    url: job.url,
    rawBody: job.body,
    alertId: job.alertId,
    attempt: job.attempt,
    secrets,
  });
}
