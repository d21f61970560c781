/**
 * The alert log: billing.alert_log (read through billing.alerts, FINAL) and
 * billing.alert_deliveries. Owner: the alerts service, their only writer
 * (services/alerts/src/log.ts, store.ts). Pricing, enforcement and the API read them through the
 * named reads exported here.
 */
import type { ClickHouseClient } from '@nanobill/clickhouse';

export const ALERT_LOG_TABLE = 'billing.alert_log';
export const ALERT_DELIVERIES_TABLE = 'billing.alert_deliveries';

/** A billing.alert_log row: the alert, its exact body, and where it goes. */
export interface AlertLogRow {
  alert_id: string;
  type: string;
  severity: string;
  account_id: string | null;
  provider: string | null;
  message: string;
  details: string;
  created_at: string;
  body: string;
  webhook_url: string | null;
}

export const ALERT_LOG_COLUMNS = [
  'alert_id',
  'type',
  'severity',
  'account_id',
  'provider',
  'message',
  'details',
  'created_at',
  'body',
  'webhook_url',
] as const satisfies ReadonlyArray<keyof AlertLogRow>;

/**
 * The ids of every logged alert, as a subquery (`alert_id NOT IN (${LOGGED_ALERT_IDS})`), for a
 * reader that looks for its own alerts the log does not hold yet. The log keeps each id once,
 * so no FINAL is needed to ask whether one is there.
 */
export const LOGGED_ALERT_IDS = `SELECT alert_id FROM ${ALERT_LOG_TABLE}`;

/** The spend-threshold alerts already raised for `month` (ids `threshold:<month>:…`). */
export async function thresholdAlertIds(
  clickhouse: ClickHouseClient,
  month: string,
): Promise<string[]> {
  const result = await clickhouse.query({
    query: `SELECT DISTINCT alert_id FROM ${ALERT_LOG_TABLE}
            WHERE type = 'spend_threshold' AND startsWith(alert_id, {prefix:String})`,
    query_params: { prefix: `threshold:${month}:` },
    format: 'JSONCompactEachRow',
  });
  return (await result.json<[string]>()).map(([id]) => id);
}

/** An account's alert with the state of its webhook deliveries (empty strings: none yet). */
export interface AccountAlertRow {
  alert_id: string;
  type: string;
  severity: string;
  message: string;
  details: string;
  created_at: string;
  outcome: string;
  attempts: number | string;
  last_error: string;
  last_at: string;
}

/** The account's `limit` latest alerts, newest first, each with its deliveries summed up. */
export async function accountAlerts(
  clickhouse: ClickHouseClient,
  accountId: string,
  limit: number,
): Promise<AccountAlertRow[]> {
  const result = await clickhouse.query({
    query: `SELECT a.alert_id, a.type, a.severity, a.message, a.details, a.created_at,
                   d.outcome, d.attempts, d.last_error, d.last_at
            FROM (SELECT * FROM billing.alerts WHERE account_id = {org:String}
                  ORDER BY created_at DESC LIMIT {limit:UInt32}) AS a
            LEFT JOIN (SELECT alert_id, argMax(outcome, attempt) AS outcome,
                              max(attempt) AS attempts, argMax(error, attempt) AS last_error,
                              max(attempted_at) AS last_at
                       FROM ${ALERT_DELIVERIES_TABLE}
                       WHERE alert_id IN (SELECT alert_id FROM ${ALERT_LOG_TABLE}
                                          WHERE account_id = {org:String})
                       GROUP BY alert_id) AS d ON d.alert_id = a.alert_id
            ORDER BY a.created_at DESC`,
    query_params: { org: accountId, limit },
    format: 'JSONEachRow',
  });
  return result.json<AccountAlertRow>();
}
