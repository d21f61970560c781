/**
 * The alert log: billing.alert_log (read through billing.alerts, FINAL) and
 * billing.alert_deliveries. Owner: the alerts service, their only writer
 * (services/alerts/src/log.ts, store.ts). Pricing, enforcement and the API read them through the
 * named reads exported here.
 */
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { readRows } from './read.js';

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

/** The alert log's tables: each alert once, and each delivery attempt. */
export const ALERT_TABLES = {
  log: 'billing.alert_log',
  deliveries: 'billing.alert_deliveries',
} as const;

/**
 * The ids of every logged alert, as a subquery (`alert_id NOT IN (${LOGGED_ALERT_IDS})`), for a
 * reader that looks for its own alerts the log does not hold yet. The log keeps each id once,
 * so no FINAL is needed to ask whether one is there.
 */
export const LOGGED_ALERT_IDS = `SELECT alert_id FROM ${ALERT_TABLES.log}`;

/** The spend-threshold alerts already raised for `month` (ids `threshold:<month>:…`). */
export async function thresholdAlertIds(
  clickhouse: ClickHouseClient,
  month: string,
): Promise<string[]> {
  const rows = await readRows<[string]>(
    clickhouse,
    `SELECT DISTINCT alert_id FROM ${ALERT_TABLES.log}
            WHERE type = 'spend_threshold' AND startsWith(alert_id, {prefix:String})`,
    { prefix: `threshold:${month}:` },
  );
  return rows.map(([id]) => id);
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
  return readRows<AccountAlertRow>(
    clickhouse,
    `SELECT a.alert_id, a.type, a.severity, a.message, a.details, a.created_at,
                   d.outcome, d.attempts, d.last_error, d.last_at
            FROM (SELECT * FROM billing.alerts WHERE account_id = {org:String}
                  ORDER BY created_at DESC LIMIT {limit:UInt32}) AS a
            LEFT JOIN (SELECT alert_id, argMax(outcome, attempt) AS outcome,
                              max(attempt) AS attempts, argMax(error, attempt) AS last_error,
                              max(attempted_at) AS last_at
                       FROM ${ALERT_TABLES.deliveries}
                       WHERE alert_id IN (SELECT alert_id FROM ${ALERT_TABLES.log}
                                          WHERE account_id = {org:String})
                       GROUP BY alert_id) AS d ON d.alert_id = a.alert_id
            ORDER BY a.created_at DESC`,
    { org: accountId, limit },
    'JSONEachRow',
  );
}
