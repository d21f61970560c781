import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { TOPICS, type Alert } from '@nanobill/contract';
import {
  ALERTS_TOPIC,
  createProducer,
  onTopic,
  topicPublisher,
  type Kafka,
  type Supervision,
} from '@nanobill/kafka';
import type { Logger, Registry } from '@nanobill/observability';
import { WebhookSender, type Resolve, type WebhookSecretStore } from '@nanobill/webhooks';
import type { RetryPolicy } from '@nanobill/retry';
import { DeliveryQueue, type DeliveryJob } from './deliveries.js';
import { startDeliveryWorker } from './delivery-worker.js';
import { ACCOUNT_ALERT_TYPES, deliveryUrl } from './destination.js';
import { startDlqWatchJob } from './dlq-job.js';
import { startAlertLogConsumer } from './log-consumer.js';
import { AlertLog, type AlertLogRow } from './log.js';
import { createAlertsMetrics } from './metrics.js';
import { unfinishedDeliveries } from './store.js';

export const ALERTS_GROUP_ID = 'nanobill-alerts';

export interface WebhookSettings {
  /** Extra trusted CA (PEM), e.g. a corporate CA or a test's self-signed receiver. */
  ca?: string | Buffer;
  timeoutMs?: number;
  /** Networks reachable besides public unicast (CIDR, e.g. 127.0.0.1/32 in tests); none by default. */
  allowNetworks?: readonly string[];
  /** How host names are resolved (default: the system resolver). */
  resolve?: Resolve;
}

/** The operations webhook: where operations alerts go, signed with a secret of its own. */
export interface OpsWebhook {
  url: string;
  secret: string;
}

export interface AlertsOptions {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  logger: Logger;
  metrics: Registry;
  webhook?: WebhookSettings;
  /** Each account's signing secrets: account alerts are signed with the account's own. */
  secrets: WebhookSecretStore;
  /** Where operations alerts (unpriced, cost endpoint failing, DLQ growth…) are delivered. */
  opsWebhook?: OpsWebhook;
  topics?: { alerts: string; dlqs: string[] };
  groupId?: string;
  retry?: RetryPolicy;
  /** How often due deliveries are looked for. */
  pollMs?: number;
  concurrency?: number;
  /** DLQ check interval (0: never), growth that alerts, one alert per topic per window. */
  dlqWatch?: { intervalMs: number; threshold: number; windowMs: number };
  /** Deliveries of alerts older than this are not resumed after a restart. */
  resumeWindowMs?: number;
  now?: () => Date;
  sessionTimeoutMs?: number;
  /** Where a consumer being restarted is reported (the process's `/readyz`), restart delays. */
  supervision?: Supervision;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 10,
  baseDelayMs: 1_000,
  maxDelayMs: 10 * 60_000,
  jitter: 'full',
};

/**
 * Alerts (docs/contract.md §7): every alert on `billing.alerts.v1` is logged once in
 * `billing.alert_log` (offsets committed after), then delivered to its webhook (public addresses
 * only) signed with the account's own secret over the timestamp and the raw body, retried with
 * backoff, each attempt recorded in `billing.alert_deliveries`. A delivery that fails in any way
 * (even a bad alert id, or no secret to sign with) is a recorded attempt, never a throw. Deliveries not finished survive a restart (they are resumed from
 * those tables), so an alert logged is delivered once; a crash in the instant between a
 * receiver's 2xx and its record repeats that one attempt, which receivers recognise by the
 * `nanobill-alert-id` header. A delivery abandoned raises a `webhook_delivery_failing`
 * operations alert. Also watches the dead-letter topics for growth.
 */
export async function startAlerts(options: AlertsOptions): Promise<{ stop(): Promise<void> }> {
  const logger = options.logger.child({ service: 'alerts' });
  const now = options.now ?? (() => new Date());
  const topics = options.topics ?? {
    alerts: TOPICS.alerts,
    dlqs: [TOPICS.requestsDlq, TOPICS.accountsDlq],
  };
  const retry = options.retry ?? DEFAULT_RETRY;
  const metrics = createAlertsMetrics(options.metrics);
  const { clickhouse } = options;
  const facts = new AccountFactsReader(clickhouse, new AccountHistory());
  await facts.refresh();
  const log = new AlertLog(clickhouse, (err, rows) =>
    logger.error({ err, rows }, 'alert log write failed'),
  );
  const sender = new WebhookSender({
    ca: options.webhook?.ca,
    timeoutMs: options.webhook?.timeoutMs,
    allowNetworks: options.webhook?.allowNetworks,
    resolve: options.webhook?.resolve,
  });
  const opsUrl = options.opsWebhook?.url;
  const producer = createProducer(options.kafka);
  await producer.connect();
  const alertsOut = topicPublisher(producer, onTopic(ALERTS_TOPIC, topics.alerts));
  const raise = (alert: Alert) => alertsOut.publish([alert]);

  const queue = await resumedDeliveries(
    clickhouse,
    now().getTime() - (options.resumeWindowMs ?? 7 * 24 * 60 * 60_000),
    opsUrl,
  );
  if (queue.size > 0) logger.info({ deliveries: queue.size }, 'unfinished deliveries resumed');

  const consumer = await startAlertLogConsumer({
    kafka: options.kafka,
    topic: topics.alerts,
    groupId: options.groupId ?? ALERTS_GROUP_ID,
    sessionTimeoutMs: options.sessionTimeoutMs,
    supervision: { metrics: options.metrics, ...options.supervision },
    logger,
    metrics,
    facts,
    log,
    opsWebhookUrl: opsUrl,
    now,
    onLogged: (row) => {
      const url = deliveryUrl(row.type, row.webhook_url, opsUrl);
      if (url !== undefined) queue.add(firstDelivery(row, url));
      metrics.queued.set(queue.size);
    },
  });

  const worker = startDeliveryWorker({
    queue,
    sender,
    secretsFor: signingSecrets(options.secrets, options.opsWebhook?.secret),
    clickhouse,
    retry,
    raise,
    metrics,
    logger,
    now,
    pollMs: options.pollMs ?? 250,
    concurrency: options.concurrency ?? 8,
  });

  const dlqWatch = await startDlqWatchJob({
    kafka: options.kafka,
    topics: topics.dlqs,
    watch: options.dlqWatch ?? { intervalMs: 60_000, threshold: 1, windowMs: 60 * 60_000 },
    raise,
    metrics,
    logger,
    now,
  });

  return {
    async stop() {
      const attemptsRecorded = worker.stop();
      dlqWatch.stop();
      await consumer.stop();
      await log.close();
      // Attempts in flight finish and are recorded; waiting ones resume at the next start.
      await attemptsRecorded;
      await sender.close();
      await producer.disconnect();
    },
  };
}

/** The deliveries not finished before the last stop (alerts logged since `sinceMs`). */
async function resumedDeliveries(
  clickhouse: ClickHouseClient,
  sinceMs: number,
  opsUrl: string | undefined,
): Promise<DeliveryQueue> {
  const queue = new DeliveryQueue();
  for (const job of await unfinishedDeliveries(clickhouse, sinceMs)) {
    const url = deliveryUrl(job.type, job.url, opsUrl);
    if (url !== undefined) queue.add({ ...job, url });
  }
  return queue;
}

/** A logged alert's first delivery, due now. */
function firstDelivery(row: AlertLogRow, url: string): DeliveryJob {
  return {
    alertId: row.alert_id,
    accountId: row.account_id,
    type: row.type,
    url,
    body: row.body,
    attempt: 1,
    dueAtMs: 0,
  };
}

/** Account alerts with the account's secrets, operations alerts with the operations one. */
function signingSecrets(
  secrets: WebhookSecretStore,
  opsSecret: string | undefined,
): (job: DeliveryJob) => Promise<string[]> {
  return async (job) => {
    if (!ACCOUNT_ALERT_TYPES.has(job.type as Alert['type'])) {
      if (opsSecret === undefined) throw new Error('no operations webhook secret');
      return [opsSecret];
    }
    if (job.accountId === null) throw new Error('an account alert without an account');
    return secrets.signingSecrets(job.accountId);
  };
}
