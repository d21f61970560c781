import type { AccountFactsReader } from '@nanobill/accounts';
import { Alert } from '@nanobill/contract';
import {
  startBatchConsumer,
  type Kafka,
  type PartitionBatch,
  type RunningConsumer,
  type Supervision,
} from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';
import { webhookOrigin } from '@nanobill/webhooks';
import { ACCOUNT_ALERT_TYPES, destinationOf } from './destination.js';
import { alertLogRow, type AlertLog, type AlertLogRow } from './log.js';
import type { AlertsMetrics } from './metrics.js';

export interface AlertLogConsumerOptions {
  kafka: Kafka;
  topic: string;
  groupId: string;
  sessionTimeoutMs?: number;
  supervision: Supervision;
  logger: Logger;
  metrics: AlertsMetrics;
  /** Account facts: where an account's alerts are delivered (its webhook in force). */
  facts: AccountFactsReader;
  log: AlertLog;
  /** Where operations alerts go; the log keeps its origin only. */
  opsWebhookUrl: string | undefined;
  now: () => Date;
  /** Each alert logged for the first time, for delivery (before its offset is committed). */
  onLogged(row: AlertLogRow): void;
}

/**
 * Consumes `billing.alerts.v1`: each alert is logged once in `billing.alert_log` with where it
 * goes, then handed over for delivery; offsets are committed after. An invalid alert (a bug in a
 * nanobill service) is logged with its offset and skipped.
 */
export function startAlertLogConsumer(options: AlertLogConsumerOptions): Promise<RunningConsumer> {
  return startBatchConsumer({
    kafka: options.kafka,
    groupId: options.groupId,
    topic: options.topic,
    logger: options.logger,
    handle: (batch) => logBatch(options, batch),
    sessionTimeoutMs: options.sessionTimeoutMs,
    supervision: options.supervision,
  });
}

async function logBatch(options: AlertLogConsumerOptions, batch: PartitionBatch): Promise<void> {
  const { facts, metrics, logger } = options;
  await facts.refresh();
  const at = options.now();
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
    const destination = destinationOf(alert, facts.history, at, options.opsWebhookUrl);
    const logged =
      destination === undefined || ACCOUNT_ALERT_TYPES.has(alert.type)
        ? destination
        : webhookOrigin(destination);
    rows.push(alertLogRow(alert, body, logged));
  }
  const fresh = await options.log.write(rows);
  const freshIds = new Set(fresh.map((r) => r.alert_id));
  for (const row of rows) {
    metrics.alerts.inc({
      type: row.type,
      result: freshIds.has(row.alert_id) ? 'logged' : 'duplicate',
    });
  }
  for (const row of fresh) options.onLogged(row);
}
