import type { ClickHouseClient } from '@nanobill/clickhouse';
import { checked, type CheckResult, type Example } from './result.js';
import { rows, yyyymm } from './sql.js';

export interface UsageCheckOptions {
  month: string;
  now: Date;
  /** The pricing deadline (NANOBILL_PRICING_DEADLINE_MS), counted from `first_seen_at`. */
  deadlineMs: number;
  /**
   * How long past the deadline a request may still be pending: the pricing round that turns it
   * unpriced runs on a schedule (every minute by default). Default 15 minutes.
   */
  overdueSlackMs?: number;
  /**
   * How long a stored request may be in none of ledger, unpriced and pending: the time pricing
   * takes to consume it after ingest stored it. Default 5 minutes.
   */
  settleMs?: number;
}

/** Where a routed request that reached a provider stands; the last three are violations. */
const STATES = [
  'priced',
  'unpriced',
  'quarantined',
  'pending',
  'in_flight',
  'overdue',
  'lost',
  'both',
] as const;
type State = (typeof STATES)[number];
const VIOLATIONS: ReadonlySet<State> = new Set(['overdue', 'lost', 'both']);

/**
 * The usage check (docs/finance.md "Audit: the books checked", 1). For the month's requests (by
 * event time):
 * - each request id is in billing.usage once;
 * - each routed request that reached a provider (provider_request_id not NULL) is in exactly one
 *   of billing.ledger, billing.unpriced, billing.pricing_duplicates (a reused provider request id,
 *   quarantined) or pending (billing.pricing_pending, resolved by none): `both` when in more than
 *   one of the first three, `lost` when in none once `settleMs` has passed since ingest stored it;
 * - none is pending longer than the deadline (plus the slack of a pricing round): `overdue`;
 * - each ledger and unpriced row is a request of billing.usage (matched by request id).
 */
export async function checkUsage(
  clickhouse: ClickHouseClient,
  options: UsageCheckOptions,
): Promise<CheckResult> {
  const params = {
    m: yyyymm(options.month),
    now: options.now.getTime(),
    overdueMs: options.deadlineMs + (options.overdueSlackMs ?? 15 * 60_000),
    settleMs: options.settleMs ?? 5 * 60_000,
  };
  const [duplicates, states, orphans] = await Promise.all([
    usageDuplicates(clickhouse, params),
    requestStates(clickhouse, params),
    rowsWithoutUsage(clickhouse, params),
  ]);
  const examples: Example[] = [...duplicates.examples];
  let total = duplicates.total;
  const counts = new Map<State, number>();
  let oldestPendingMs: number | undefined;
  for (const s of states) {
    counts.set(s.state, Number(s.n));
    if (s.state === 'pending' || s.state === 'overdue') {
      const age = params.now - Number(s.oldest_first_seen_ms);
      oldestPendingMs = Math.max(oldestPendingMs ?? 0, age);
    }
    if (!VIOLATIONS.has(s.state)) continue;
    total += Number(s.n);
    for (const [requestId, provider, providerRequestId, firstSeenMs] of s.examples) {
      examples.push({
        problem: PROBLEMS[s.state as 'overdue' | 'lost' | 'both'],
        request_id: requestId,
        provider,
        provider_request_id: providerRequestId,
        ...(s.state === 'overdue' ? { pending_for_ms: params.now - Number(firstSeenMs) } : {}),
      });
    }
  }
  total += orphans.total;
  examples.push(...orphans.examples);
  const count = (s: State) => counts.get(s) ?? 0;
  const pending = count('pending') + count('overdue');
  const age =
    oldestPendingMs === undefined ? '' : ` (oldest ${Math.round(oldestPendingMs / 1000)} s)`;
  return checked('usage', options.month, {
    examples,
    total,
    summary:
      `${STATES.reduce((n, s) => n + count(s), 0)} routed requests reached a provider: ` +
      `${count('priced')} in the ledger, ${count('unpriced')} unpriced, ` +
      `${count('quarantined')} quarantined, ${pending} pending${age}, ` +
      `${count('in_flight')} on their way to pricing`,
  });
}

const PROBLEMS = {
  overdue: 'pending past the pricing deadline',
  lost: 'in none of ledger, unpriced, quarantine and pending',
  both: 'in more than one of ledger, unpriced and quarantine',
} as const;

type Params = {
  m: number;
  now: number;
  overdueMs: number;
  settleMs: number;
};

/** Request ids stored in billing.usage more than once. */
async function usageDuplicates(clickhouse: ClickHouseClient, params: Params) {
  const found = await rows<{ request_id: string; n: string; total: string }>(
    clickhouse,
    `SELECT request_id, count() AS n, count() OVER () AS total
     FROM billing.usage WHERE toYYYYMM(event_time) = {m:UInt32}
     GROUP BY request_id HAVING n > 1
     ORDER BY request_id LIMIT 10`,
    params,
  );
  return {
    total: Number(found[0]?.total ?? 0),
    examples: found.map((r): Example => ({
      problem: 'in billing.usage more than once',
      request_id: r.request_id,
      rows: Number(r.n),
    })),
  };
}

/**
 * The SQL of docs/finance.md "Audit: the books checked": every routed request that reached a
 * provider, with where it stands.
 */
export const REQUEST_STATES_SQL = `
SELECT u.request_id AS request_id, u.provider AS provider,
       u.reached_id AS provider_request_id, u.ingested_at AS ingested_at,
       l.request_id != '' AS in_ledger, x.request_id != '' AS in_unpriced,
       q.request_id != '' AS in_quarantine,
       p.request_id != '' AS in_pending, p.first_seen_at AS first_seen_at,
       multiIf(toUInt8(in_ledger) + toUInt8(in_unpriced) + toUInt8(in_quarantine) > 1, 'both',
               in_ledger, 'priced',
               in_unpriced, 'unpriced',
               in_quarantine, 'quarantined',
               in_pending AND first_seen_at < fromUnixTimestamp64Milli({now:Int64} - {overdueMs:Int64}), 'overdue',
               in_pending, 'pending',
               ingested_at < fromUnixTimestamp64Milli({now:Int64} - {settleMs:Int64}), 'lost',
               'in_flight') AS state
FROM (SELECT request_id, toString(provider) AS provider,
             assumeNotNull(provider_request_id) AS reached_id, ingested_at
      FROM billing.usage
      WHERE toYYYYMM(event_time) = {m:UInt32} AND billing_mode = 'routed'
        AND provider_request_id IS NOT NULL) AS u
LEFT JOIN (SELECT DISTINCT request_id FROM billing.ledger_entries
           WHERE toYYYYMM(event_time) = {m:UInt32}) AS l ON l.request_id = u.request_id
LEFT JOIN (SELECT DISTINCT request_id FROM billing.unpriced_entries
           WHERE toYYYYMM(event_time) = {m:UInt32}) AS x ON x.request_id = u.request_id
LEFT JOIN (SELECT DISTINCT request_id FROM billing.pricing_duplicates
           WHERE toYYYYMM(event_time) = {m:UInt32}) AS q ON q.request_id = u.request_id
LEFT JOIN (SELECT request_id, min(first_seen_at) AS first_seen_at FROM billing.pricing_pending
           WHERE toYYYYMM(event_time) = {m:UInt32} GROUP BY request_id) AS p
       ON p.request_id = u.request_id`;

async function requestStates(clickhouse: ClickHouseClient, params: Params) {
  return rows<{
    state: State;
    n: string;
    oldest_first_seen_ms: string;
    examples: Array<[string, string, string, string]>;
  }>(
    clickhouse,
    `SELECT state, count() AS n,
            toString(toUnixTimestamp64Milli(minIf(first_seen_at, in_pending))) AS oldest_first_seen_ms,
            groupArray(10)((request_id, provider, provider_request_id,
                            toString(toUnixTimestamp64Milli(first_seen_at)))) AS examples
     FROM (${REQUEST_STATES_SQL})
     GROUP BY state`,
    params,
  );
}

/** Ledger and unpriced rows whose request billing.usage does not have (ingest had its time). */
async function rowsWithoutUsage(clickhouse: ClickHouseClient, params: Params) {
  const found = await rows<{ source: string; request_id: string; provider: string; total: string }>(
    clickhouse,
    `SELECT source, request_id, provider, count() OVER () AS total FROM (
       SELECT 'billing.ledger' AS source, request_id, toString(provider) AS provider, priced_at AS at
       FROM billing.ledger_entries WHERE toYYYYMM(event_time) = {m:UInt32}
       UNION ALL
       SELECT 'billing.unpriced', request_id, toString(provider), unpriced_at
       FROM billing.unpriced_entries WHERE toYYYYMM(event_time) = {m:UInt32})
     WHERE at < fromUnixTimestamp64Milli({now:Int64} - {settleMs:Int64})
       AND request_id NOT IN (SELECT request_id FROM billing.usage
                              WHERE toYYYYMM(event_time) = {m:UInt32})
     ORDER BY request_id LIMIT 10`,
    params,
  );
  return {
    total: Number(found[0]?.total ?? 0),
    examples: found.map((r): Example => ({
      problem: `in ${r.source} but not in billing.usage`,
      request_id: r.request_id,
      provider: r.provider,
    })),
  };
}
