import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Alert } from '@nanobill/contract';
import { unpricedAlert } from './round.js';
import { DUPLICATES_TABLE, LOGGED_ALERT_IDS, UNPRICED_TABLE } from '@nanobill/tables';
import { clickhouseTime } from './writers.js';

/** How far back a restart looks for unpriced requests whose alert never reached the log. */
const LOOK_BACK_MS = 24 * 60 * 60_000;

/**
 * The unpriced_requests alerts of the last day that `billing.alert_log` does not hold: lost when
 * a pricing process died between storing the unpriced rows and publishing their alert (or not
 * logged yet: publishing one again is harmless, the log keeps each id once). Rebuilt from the
 * rows with the id and time they were stored under, so the alert is the one first published.
 */
export async function unannouncedUnpricedAlerts(
  clickhouse: ClickHouseClient,
  options: { now: Date; deadlineMs: number },
): Promise<Alert[]> {
  const since = new Date(options.now.getTime() - LOOK_BACK_MS);
  // The quarantined reuses of a provider request id are announced the same way.
  const announced = (table: string, at: string) =>
    `SELECT alert_id, provider, ${at} AS at, reason
     FROM ${table} FINAL
     WHERE alert_id != '' AND ${at} >= {since:DateTime64(3, 'UTC')}
       AND alert_id NOT IN (${LOGGED_ALERT_IDS})`;
  const result = await clickhouse.query({
    query: `SELECT alert_id, any(provider) AS provider, toString(min(at)) AS at, reason, count() AS n
            FROM (${announced(UNPRICED_TABLE, 'unpriced_at')}
                  UNION ALL ${announced(DUPLICATES_TABLE, 'quarantined_at')})
            GROUP BY alert_id, reason
            ORDER BY alert_id, reason`,
    query_params: { since: clickhouseTime(since) },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{
    alert_id: string;
    provider: string;
    at: string;
    reason: string;
    n: string;
  }>();
  const sets = new Map<string, { provider: string; at: string; reasons: Record<string, number> }>();
  for (const row of rows) {
    const set = sets.get(row.alert_id) ?? { provider: row.provider, at: row.at, reasons: {} };
    set.reasons[row.reason] = Number(row.n);
    sets.set(row.alert_id, set);
  }
  return [...sets].map(([alertId, set]) =>
    unpricedAlert({
      alertId,
      provider: set.provider,
      at: new Date(`${set.at.replace(' ', 'T')}Z`),
      reasons: set.reasons,
      deadlineMs: options.deadlineMs,
    }),
  );
}
