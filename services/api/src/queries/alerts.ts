import type { ClickHouseClient } from '@nanobill/clickhouse';

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

interface AlertRow {
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

/**
 * The org's `limit` newest alerts (billing.alerts), newest first, each with its delivery: the
 * latest attempt's outcome and error, the number of attempts and when the last one was made.
 */
export async function recentAlerts(
  clickhouse: ClickHouseClient,
  org: string,
  limit: number,
): Promise<AlertEntry[]> {
  const result = await clickhouse.query({
    query: `SELECT a.alert_id, a.type, a.severity, a.message, a.details, a.created_at,
                   d.outcome, d.attempts, d.last_error, d.last_at
            FROM (SELECT * FROM billing.alerts WHERE account_id = {org:String}
                  ORDER BY created_at DESC LIMIT {limit:UInt32}) AS a
            LEFT JOIN (SELECT alert_id, argMax(outcome, attempt) AS outcome,
                              max(attempt) AS attempts, argMax(error, attempt) AS last_error,
                              max(attempted_at) AS last_at
                       FROM billing.alert_deliveries
                       WHERE alert_id IN (SELECT alert_id FROM billing.alert_log
                                          WHERE account_id = {org:String})
                       GROUP BY alert_id) AS d ON d.alert_id = a.alert_id
            ORDER BY a.created_at DESC`,
    query_params: { org, limit },
    format: 'JSONEachRow',
  });
  return (await result.json<AlertRow>()).map(alertEntry);
}

function alertEntry(r: AlertRow): AlertEntry {
  return {
    alertId: r.alert_id,
    type: r.type,
    severity: r.severity,
    message: r.message,
    details: JSON.parse(r.details) as unknown,
    createdAt: utc(r.created_at),
    delivery:
      r.outcome === ''
        ? null
        : {
            outcome: r.outcome,
            attempts: Number(r.attempts),
            lastError: r.last_error || null,
            lastAttemptAt: utc(r.last_at),
          },
  };
}

/** ClickHouse's 'YYYY-MM-DD hh:mm:ss.sss' (UTC) as ISO-8601. */
function utc(text: string): string {
  return `${text.replace(' ', 'T')}Z`;
}
