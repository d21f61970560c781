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

/** The query's columns (JSONEachRow; a UInt64 may come as a string); '' where no delivery. */
type AlertRow = Omit<AlertEntry, 'details' | 'delivery'> & {
  details: string;
  outcome: string;
  attempts: number | string;
  lastError: string;
  lastAttemptAt: string;
};

/** Which alerts: the org's, the `limit` newest. */
export interface AlertsAsked {
  org: string;
  limit: number;
}

/**
 * The org's `limit` newest alerts (billing.alerts), newest first, each with its delivery: the
 * latest attempt's outcome and error, the number of attempts and when the last one was made.
 */
export async function recentAlerts(clickhouse: ClickHouseClient, { org, limit }: AlertsAsked) {
  const result = await clickhouse.query({
    query: `SELECT a.alert_id AS alertId, a.type AS type, a.severity AS severity,
                   a.message AS message, a.details AS details, a.created_at AS createdAt,
                   d.outcome AS outcome, d.attempts AS attempts, d.last_error AS lastError,
                   d.last_at AS lastAttemptAt
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

function alertEntry(row: AlertRow): AlertEntry {
  const { details, createdAt, outcome, attempts, lastError, lastAttemptAt, ...alert } = row;
  return {
    ...alert,
    details: JSON.parse(details) as unknown,
    createdAt: utc(createdAt),
    delivery:
      outcome === ''
        ? null
        : {
            outcome,
            attempts: Number(attempts),
            lastError: lastError || null,
            lastAttemptAt: utc(lastAttemptAt),
          },
  };
}

/** ClickHouse's 'YYYY-MM-DD hh:mm:ss.sss' (UTC) as ISO-8601. */
function utc(text: string): string {
  return `${text.replace(' ', 'T')}Z`;
}
