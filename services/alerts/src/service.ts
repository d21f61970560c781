import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { Alert, TOPICS } from '@nanobill/contract';
import {
  createProducer,
  startBatchConsumer,
  type Kafka,
  type PartitionBatch,
  type Supervision,
} from '@nanobill/kafka';
import type { Logger, Registry } from '@nanobill/observability';
import {
  WebhookSender,
  webhookOrigin,
  type DeliveryOutcome,
  type Resolve,
  type WebhookSecretStore,
} from '@nanobill/webhooks';
import type { RetryPolicy } from '@nanobill/retry';
import { afterAttempt, DeliveryQueue, type DeliveryJob } from './deliveries.js';
import { ACCOUNT_ALERT_TYPES, destinationOf } from './destination.js';
import { DlqWatch } from './dlq-watch.js';
import { AlertLog, alertLogRow, type AlertLogRow } from './log.js';
import { createAlertsMetrics } from './metrics.js';
import { deliveryFailing, dlqGrowth } from './ops-alerts.js';
import { recordAttempt, unfinishedDeliveries } from './store.js';

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
  /** Account alerts with the account's secrets, operations alerts with the operations one. */
  const secretsFor = async (job: DeliveryJob): Promise<string[]> => {
    if (!ACCOUNT_ALERT_TYPES.has(job.type as Alert['type'])) {
      if (options.opsWebhook === undefined) throw new Error('no operations webhook secret');
      return [options.opsWebhook.secret];
    }
    if (job.accountId === null) throw new Error('an account alert without an account');
    return options.secrets.signingSecrets(job.accountId);
  };
  const queue = new DeliveryQueue();
  const producer = createProducer(options.kafka);
  await producer.connect();

  const publish = async (alerts: Alert[]) => {
    await producer.send({
      topic: topics.alerts,
      acks: -1,
      messages: alerts.map((a) => ({ key: a.alertId, value: JSON.stringify(Alert.parse(a)) })),
    });
  };

  /**
   * Where a logged alert is delivered. The log (which finance can read) keeps an operations
   * alert's webhook as its origin only: that URL is an operator's credential (a Slack-style hook),
   * so operations deliveries take the configured URL, now as after a restart.
   */
  const deliveryUrl = (type: string, logged: string | null): string | undefined => {
    if (logged === null) return undefined;
    return ACCOUNT_ALERT_TYPES.has(type as Alert['type']) ? logged : opsUrl;
  };
  const enqueue = (row: AlertLogRow) => {
    const url = deliveryUrl(row.type, row.webhook_url);
    if (url === undefined) return;
    queue.add({
      alertId: row.alert_id,
      accountId: row.account_id,
      type: row.type,
      url,
      body: row.body,
      attempt: 1,
      dueAtMs: 0,
    });
  };
  for (const job of await unfinishedDeliveries(
    clickhouse,
    now().getTime() - (options.resumeWindowMs ?? 7 * 24 * 60 * 60_000),
  )) {
    const url = deliveryUrl(job.type, job.url);
    if (url !== undefined) queue.add({ ...job, url });
  }
  if (queue.size > 0) logger.info({ deliveries: queue.size }, 'unfinished deliveries resumed');

  async function handle(batch: PartitionBatch): Promise<void> {
    await facts.refresh();
    const at = now();
    const rows: AlertLogRow[] = [];
    for (const message of batch.messages) {
      const body = message.value?.toString() ?? '';
      let parsed: ReturnType<typeof Alert.safeParse>;
      try {
        parsed = Alert.safeParse(JSON.parse(body));
      } catch {
        parsed = Alert.safeParse(undefined);
      }
      if (!parsed.success) {
        // Alerts come from nanobill's own services: a bad one is a bug, logged with its offset.
        metrics.alerts.inc({ type: 'unknown', result: 'invalid' });
        logger.error(
          { partition: batch.partition, offset: message.offset, problem: parsed.error.message },
          'invalid alert skipped',
        );
        continue;
      }
      const alert = parsed.data;
      const destination = destinationOf(alert, facts.history, at, opsUrl);
      const logged =
        destination === undefined || ACCOUNT_ALERT_TYPES.has(alert.type)
          ? destination
          : webhookOrigin(destination);
      rows.push(alertLogRow(alert, body, logged));
    }
    const fresh = await log.write(rows);
    const freshIds = new Set(fresh.map((r) => r.alert_id));
    for (const row of rows) {
      metrics.alerts.inc({
        type: row.type,
        result: freshIds.has(row.alert_id) ? 'logged' : 'duplicate',
      });
    }
    for (const row of fresh) enqueue(row);
    metrics.queued.set(queue.size);
  }

  const consumer = await startBatchConsumer({
    kafka: options.kafka,
    groupId: options.groupId ?? ALERTS_GROUP_ID,
    topic: topics.alerts,
    logger,
    handle,
    sessionTimeoutMs: options.sessionTimeoutMs,
    supervision: { metrics: options.metrics, ...options.supervision },
  });

  const sign = async (job: DeliveryJob): Promise<DeliveryOutcome> => {
    let secrets: string[];
    try {
      secrets = await secretsFor(job);
    } catch (err) {
      logger.error({ err, alertId: job.alertId }, 'no signing secret for a delivery');
      return { ok: false, status: null, error: SECRET_UNAVAILABLE, durationMs: 0, retryable: true };
    }
    return sender.send({
      url: job.url,
      rawBody: job.body,
      alertId: job.alertId,
      attempt: job.attempt,
      secrets,
    });
  };

  const attempt = async (job: DeliveryJob) => {
    const result = await sign(job);
    const record = afterAttempt(job, result, Date.now(), retry);
    try {
      await recordAttempt(clickhouse, record);
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
        await publish([deliveryFailing(job, result.error, now())]).catch((err: unknown) =>
          logger.error({ err, alertId: job.alertId }, 'could not raise webhook_delivery_failing'),
        );
      }
    }
  };
  /** Whatever happens in an attempt stays there: the job is tried again later, the rest go on. */
  const attemptIsolated = (job: DeliveryJob) =>
    attempt(job).catch((err: unknown) => {
      logger.error({ err, alertId: job.alertId }, 'delivery attempt failed unexpectedly');
      queue.release(job, Date.now() + retry.maxDelayMs);
    });
  let inFlight = 0;
  const concurrency = options.concurrency ?? 8;
  const poll = () => {
    for (const job of queue.due(Date.now(), concurrency - inFlight)) {
      inFlight++;
      void attemptIsolated(job).finally(() => {
        inFlight--;
        metrics.queued.set(queue.size);
      });
    }
  };
  const poller = setInterval(poll, options.pollMs ?? 250);

  const watch = options.dlqWatch ?? { intervalMs: 60_000, threshold: 1, windowMs: 60 * 60_000 };
  const dlq = new DlqWatch(watch.threshold, watch.windowMs);
  const checkDlqs = async () => {
    const admin = options.kafka.admin();
    await admin.connect();
    try {
      for (const topic of topics.dlqs) {
        const offsets = await admin.fetchTopicOffsets(topic);
        const end = offsets.reduce((sum, o) => sum + BigInt(o.high), 0n);
        metrics.dlqMessages.set({ topic }, Number(end));
        const growth = dlq.observe(topic, end, now().getTime());
        if (growth === undefined) continue;
        await publish([dlqGrowth(topic, growth, end, now())]).catch((error: unknown) => {
          dlq.unraise(topic, growth);
          throw error;
        });
      }
    } finally {
      await admin.disconnect();
    }
  };
  const dlqTimer =
    watch.intervalMs > 0
      ? setInterval(() => {
          checkDlqs().catch((err: unknown) => logger.error({ err }, 'DLQ check failed'));
        }, watch.intervalMs)
      : undefined;
  if (watch.intervalMs > 0)
    await checkDlqs().catch((err: unknown) => logger.error({ err }, 'DLQ check failed'));

  return {
    async stop() {
      clearInterval(poller);
      clearInterval(dlqTimer);
      await consumer.stop();
      await log.close();
      // Attempts in flight finish and are recorded; waiting ones resume at the next start.
      while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      await sender.close();
      await producer.disconnect();
    },
  };
}

/** What a delivery records when the account's signing secret cannot be had (retried). */
const SECRET_UNAVAILABLE = 'signing secret unavailable';
