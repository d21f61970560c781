import type { ClickHouseClient } from '@nanobill/clickhouse';
import { accountAlerts, type AccountAlertRow } from '@nanobill/tables';

/** One alert of an org as `GET /v1/orgs/{org}/alerts` lists it, with its webhook delivery. */
export interface AlertEntry {
  alertId: string;
  type: string;
  severity: string;
  message: string;
  details: unknown;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** The latest attempt's outcome; `null` when no delivery was recorded. */
  delivery: {
    outcome: string;
    attempts: number;
    lastError: string | null;
    lastAttemptAt: string;
  } | null;
}

/** Which alerts: the org's, the `limit` newest. */
export interface AlertsAsked {
  org: string;
  limit: number;
}

/**
 * The org's `limit` newest alerts, newest first, each with its delivery: the latest attempt's
 * outcome and error, the number of attempts and when the last one was made. The read is the
 * alert log's own (`accountAlerts`, owned by the alerts service); this module shapes the answer.
 */
export async function recentAlerts(clickhouse: ClickHouseClient, { org, limit }: AlertsAsked) {
  return (await accountAlerts(clickhouse, org, limit)).map(alertEntry);
}

function alertEntry(row: AccountAlertRow): AlertEntry {
  return {
    alertId: row.alert_id,
    type: row.type,
    severity: row.severity,
    message: row.message,
    details: JSON.parse(row.details) as unknown,
    createdAt: utc(row.created_at),
    delivery:
      row.outcome === ''
        ? null
        : {
            outcome: row.outcome,
            attempts: Number(row.attempts),
            lastError: row.last_error || null,
            lastAttemptAt: utc(row.last_at),
          },
  };
}

/** ClickHouse's 'YYYY-MM-DD hh:mm:ss.sss' (UTC) as ISO-8601. */
function utc(text: string): string {
  return `${text.replace(' ', 'T')}Z`;
}
