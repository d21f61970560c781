import type { ClickHouseClient } from '@nanobill/clickhouse';
import { ALERT_TABLES } from '@nanobill/tables';
import { webhookOrigin } from '@nanobill/webhooks';
import type { AttemptRecord, DeliveryJob } from './deliveries.js';

/**
 * Records one attempt in billing.alert_deliveries (awaited: the record is what makes it done).
 * The URL is recorded as its origin: it says which endpoint failed without copying a path that
 * may be a secret (the full URL stays in billing.alert_log, which resuming needs).
 */
export async function recordAttempt(
  clickhouse: ClickHouseClient,
  record: AttemptRecord,
): Promise<void> {
  const { job, result } = record;
  await clickhouse.insert({
    table: ALERT_TABLES.deliveries,
    format: 'JSONEachRow',
    values: [
      {
        alert_id: job.alertId,
        account_id: job.accountId,
        url: webhookOrigin(job.url),
        attempt: job.attempt,
        attempted_at: new Date(record.attemptedAtMs).toISOString(),
        outcome: record.outcome,
        http_status: result.status,
        error: result.error ?? '',
        duration_ms: Math.round(result.durationMs),
        next_attempt_at:
          record.nextAttemptAtMs === null ? null : new Date(record.nextAttemptAtMs).toISOString(),
      },
    ],
  });
}

/**
 * Deliveries to resume after a restart: logged alerts with a webhook, raised in the last
 * `sinceMs`, without a 'delivered' or 'abandoned' attempt; the next attempt number and when it
 * is due follow from the attempts recorded.
 */
export async function unfinishedDeliveries(
  clickhouse: ClickHouseClient,
  sinceMs: number,
): Promise<DeliveryJob[]> {
  const result = await clickhouse.query({
    query: `SELECT a.alert_id, a.account_id, a.type, assumeNotNull(a.webhook_url), a.body,
                   d.attempts, toUnixTimestamp64Milli(d.next_at)
            FROM (SELECT * FROM billing.alerts
                  WHERE webhook_url IS NOT NULL
                    AND created_at >= fromUnixTimestamp64Milli({since:Int64})) AS a
            LEFT JOIN (
              SELECT alert_id, max(attempt) AS attempts,
                     max(coalesce(next_attempt_at, attempted_at)) AS next_at,
                     countIf(outcome IN ('delivered', 'abandoned')) AS finished
              FROM ${ALERT_TABLES.deliveries} GROUP BY alert_id
            ) AS d ON d.alert_id = a.alert_id
            WHERE d.finished = 0`,
    query_params: { since: sinceMs },
    format: 'JSONCompactEachRow',
  });
  type Raw = [string, string | null, string, string, string, number | string, string];
  return (await result.json<Raw>()).map(
    ([alertId, accountId, type, url, body, attempts, nextAt]) => ({
      alertId,
      accountId,
      type,
      url,
      body,
      attempt: Number(attempts) + 1,
      dueAtMs: Number(attempts) === 0 ? 0 : Number(nextAt),
    }),
  );
}
