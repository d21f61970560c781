import { accountMonth } from '@nanobill/accounts';
import type { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { spendingLimitOf } from '@nanobill/contract';
import { monthBounds } from '@nanobill/calendar';
import { alertKey, thresholdCrossings } from '@nanobill/enforcement';
import { checked, nano, type CheckResult, type Example } from './result.js';
import { readHistory } from './history.js';
import { rows, yyyymm } from './sql.js';

/**
 * The alerts check (docs/finance.md "Audit: the books checked", 5), for the month's threshold
 * alerts:
 * - each is raised once: one alert id per account, threshold and month, logged once in
 *   billing.alert_log (a second row would be a second delivery);
 * - each one due was raised: for every account, the thresholds its ledger month-to-date has
 *   reached (`thresholdCrossings` from 0, with the facts in force, as enforcement decides them)
 *   each have their alert (`alertKey`) in billing.alerts. For a past month, the ledger rows
 *   stored before the month ended: enforcement follows the current month only.
 * Alerts raised on estimates that the real costs did not reach are not violations.
 * - each unpriced request was announced: its `unpriced_requests` alert (billing.unpriced's
 *   alert_id) is in billing.alert_log, for rows stored more than `settleMs` ago (pricing
 *   publishes the alert right after storing the rows; the alerts service logs it); hf-inference
 *   rows unpriced before migration 0014 were not announced by design, and are not violations.
 */
export async function checkAlerts(
  clickhouse: ClickHouseClient,
  options: { month: string; now: Date; history?: AccountHistory; settleMs?: number },
): Promise<CheckResult> {
  const { month, now } = options;
  const history = options.history ?? (await readHistory(clickhouse));
  const [repeated, raised, spend, unannounced] = await Promise.all([
    raisedMoreThanOnce(clickhouse, month),
    raisedIds(clickhouse, month),
    ledgerSpendSeenByEnforcement(clickhouse, month),
    unannouncedUnpriced(clickhouse, month, now.getTime() - (options.settleMs ?? 5 * 60_000)),
  ]);
  const examples: Example[] = [...repeated, ...unannounced];
  const { end } = monthBounds(month);
  const at = Math.min(now.getTime(), end.getTime() - 1);
  let due = 0;
  for (const [accountId, total] of [...spend].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const account = accountMonth(history, accountId, month, at);
    const limit = account.snapshot?.kind === 'org' ? spendingLimitOf(account.snapshot) : undefined;
    const crossings = thresholdCrossings(0n, total, {
      kind: account.facts.kind,
      plan: account.facts.plan,
      grant: account.grant,
      limit,
      payAsYouGo: account.payAsYouGo,
    });
    for (const crossing of crossings) {
      due++;
      const alertId = alertKey(accountId, month, crossing.kind);
      if (raised.has(alertId)) continue;
      examples.push({
        problem: 'threshold reached by the ledger, never alerted',
        account_id: accountId,
        alert_id: alertId,
        threshold_nano_usd: nano(crossing.threshold),
        ledger_nano_usd: nano(total),
      });
    }
  }
  return checked('alerts', month, {
    examples,
    summary: `${raised.size} threshold alerts raised, ${due} due from the ledger`,
  });
}

/**
 * The SQL of docs/finance.md "Audit: the books checked": threshold alerts of a month raised under
 * several ids or logged twice.
 */
export const RAISED_MORE_THAN_ONCE_SQL = `
SELECT ifNull(account_id, '') AS account, JSONExtractString(details, 'threshold') AS threshold,
       uniqExact(alert_id) AS ids, count() AS rows, any(alert_id) AS example_id
FROM billing.alert_log
WHERE type = 'spend_threshold' AND JSONExtractString(details, 'month') = {month:String}
GROUP BY account, threshold
HAVING ids > 1 OR rows > 1`;

async function raisedMoreThanOnce(clickhouse: ClickHouseClient, month: string) {
  const found = await rows<{
    account: string;
    threshold: string;
    ids: string;
    rows: string;
    example_id: string;
  }>(clickhouse, RAISED_MORE_THAN_ONCE_SQL, { month });
  return found.map((r): Example => ({
    problem:
      Number(r.ids) > 1 ? 'threshold alerted under several ids' : 'alert logged more than once',
    account_id: r.account,
    threshold: r.threshold,
    alert_id: r.example_id,
    ids: Number(r.ids),
    rows: Number(r.rows),
  }));
}

async function raisedIds(clickhouse: ClickHouseClient, month: string): Promise<Set<string>> {
  const found = await rows<{ alert_id: string }>(
    clickhouse,
    `SELECT alert_id FROM billing.alerts
     WHERE type = 'spend_threshold' AND startsWith(alert_id, {prefix:String})`,
    { prefix: `threshold:${month}:` },
  );
  return new Set(found.map((r) => r.alert_id));
}

/**
 * The SQL of docs/finance.md "Audit: the books checked": unpriced requests whose announcing alert
 * was never logged, per alert id.
 */
export const UNANNOUNCED_UNPRICED_SQL = `
SELECT alert_id, toString(count()) AS requests, any(provider_request_id) AS example
FROM billing.unpriced_entries FINAL
WHERE toYYYYMM(event_time) = {m:UInt32}
  AND inserted_at < fromUnixTimestamp64Milli({settled:Int64})
  AND (alert_id NOT IN (SELECT alert_id FROM billing.alert_log) OR alert_id = '')
  -- Before migration 0014, hf-inference requests that could not be priced were counted, not
  -- announced (empty alert_id): right under the rules of their time.
  AND NOT (alert_id = '' AND provider = 'hf-inference'
           AND unpriced_at < (SELECT ifNull(min(applied_at), toDateTime64(0, 3, 'UTC'))
                              FROM billing.schema_migrations WHERE version = 14))
GROUP BY alert_id ORDER BY alert_id LIMIT 10`;

async function unannouncedUnpriced(clickhouse: ClickHouseClient, month: string, settled: number) {
  const found = await rows<{ alert_id: string; requests: string; example: string }>(
    clickhouse,
    UNANNOUNCED_UNPRICED_SQL,
    { m: yyyymm(month), settled },
  );
  return found.map((r): Example => ({
    problem:
      r.alert_id === ''
        ? 'unpriced requests without an announcing alert'
        : 'unpriced requests whose alert was never logged',
    alert_id: r.alert_id,
    requests: Number(r.requests),
    provider_request_id: r.example,
  }));
}

/** The ledger month-to-date per billed account, as stored before the month ended. */
async function ledgerSpendSeenByEnforcement(
  clickhouse: ClickHouseClient,
  month: string,
): Promise<Map<string, bigint>> {
  const found = await rows<{ billed_account: string; cost_nano_usd: string }>(
    clickhouse,
    `SELECT billed_account, toString(sum(toInt128(cost_nano_usd))) AS cost_nano_usd
     FROM billing.ledger_entries FINAL
     WHERE toYYYYMM(event_time) = {m:UInt32}
       AND inserted_at < fromUnixTimestamp64Milli({end:Int64})
     GROUP BY billed_account`,
    { m: yyyymm(month), end: monthBounds(month).end.getTime() },
  );
  return new Map(found.map((r) => [r.billed_account, BigInt(r.cost_nano_usd)]));
}
