import type { ClickHouseClient } from '@nanobill/clickhouse';
import { checked, nano, type CheckResult, type Example } from './result.js';
import { rows, yyyymm } from './sql.js';

/** The ledger's measures, as every rollup sums them. */
const MEASURES = `count() AS requests, sum(ifNull(input_tokens, 0)) AS input_tokens,
       sum(ifNull(output_tokens, 0)) AS output_tokens, sum(toInt128(cost_nano_usd)) AS cost_nano_usd`;
const ROLLUP_MEASURES = `sum(requests) AS requests, sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens, sum(toInt128(cost_nano_usd)) AS cost_nano_usd`;
/** The four dimensions of the by-key rollups, as their materialized views spell them. */
const DIMENSIONS = `[('member', user_id), ('provider', toString(provider)),
                     ('model', toString(model)), ('task', toString(task))] AS d`;

/** How long a duplicate may wait for the next rollup correction pass before it is a violation. */
export const DEFAULT_CORRECTION_GRACE_MS = 5 * 60_000;

const HOUR_OF_EVENT = "toDateTime(toStartOfHour(event_time, 'UTC'), 'UTC')";

/**
 * Requests stored in the ledger more than once whose latest raw insert the rollup corrections
 * (docs/finance.md "billing.usage_hourly": a pass of the statements singleton every 30 s) have not
 * looked at yet, within `{graceMs}` of the server's clock: the rollups may still count them twice
 * for a few seconds, by design. Older ones are not excused: corrections that stopped are a
 * violation.
 */
const AWAITING_CORRECTION = `
SELECT pair.1 AS billed_account, pair.2 AS event_time FROM (
  SELECT groupUniqArray((billed_account, event_time)) AS pairs
  FROM billing.ledger_inserts WHERE toYYYYMM(event_time) = {m:UInt32}
  GROUP BY provider, provider_request_id
  HAVING count() > 1
     AND max(inserted_at) >= (SELECT if(count() = 0, toDateTime64(0, 3, 'UTC'), max(checked_until))
                              FROM billing.rollup_checks)
     AND max(inserted_at) >= now64(3, 'UTC') - toIntervalMillisecond({graceMs:Int64})
) ARRAY JOIN pairs AS pair`;

/** A per-dimension rollup (one row per billed account, dimension, key and hour or day). */
function byKey(name: string, bucket: 'hour' | 'day', bucketOfEvent: string) {
  return {
    name,
    bucket,
    bucketOfEvent,
    key: ['billed_account', 'dimension', 'key', bucket],
    ledger: `SELECT billed_account, d.1 AS dimension, d.2 AS key, ${bucketOfEvent} AS ${bucket},
                    ${MEASURES}
             FROM billing.ledger ARRAY JOIN ${DIMENSIONS}
             WHERE toYYYYMM(event_time) = {m:UInt32}
             GROUP BY billed_account, dimension, key, ${bucket}`,
    rollup: `SELECT billed_account, toString(dimension) AS dimension, key, ${bucket}, ${ROLLUP_MEASURES}
             FROM ${name} WHERE toYYYYMM(${bucket}) = {m:UInt32}
             GROUP BY billed_account, dimension, key, ${bucket}`,
  };
}

/**
 * Each rollup against the ledger grouped the same way: the rollup's key, the ledger's GROUP BY
 * and the rollup's table. Summed on both sides, so merges (or the lack of them) change nothing.
 */
export const ROLLUPS = [
  {
    name: 'billing.usage_hourly',
    bucket: 'hour',
    bucketOfEvent: HOUR_OF_EVENT,
    key: ['billed_account', 'hour', 'user_id', 'provider', 'model', 'task'],
    ledger: `SELECT billed_account, toDateTime(toStartOfHour(event_time, 'UTC'), 'UTC') AS hour, user_id,
                    toString(provider) AS provider, toString(model) AS model, toString(task) AS task,
                    ${MEASURES}
             FROM billing.ledger WHERE toYYYYMM(event_time) = {m:UInt32}
             GROUP BY billed_account, hour, user_id, provider, model, task`,
    rollup: `SELECT billed_account, hour, user_id, toString(provider) AS provider,
                    toString(model) AS model, toString(task) AS task, ${ROLLUP_MEASURES}
             FROM billing.usage_hourly WHERE toYYYYMM(hour) = {m:UInt32}
             GROUP BY billed_account, hour, user_id, provider, model, task`,
  },
  byKey('billing.usage_by_key_hourly', 'hour', HOUR_OF_EVENT),
  byKey('billing.usage_by_key_daily', 'day', "toDate(event_time, 'UTC')"),
];

/**
 * The duplicates check (docs/finance.md "Audit: the books checked", 2): no raw duplicate survives
 * where a reader can see it.
 * - billing.ledger is billing.ledger_entries deduplicated by (provider, provider_request_id)
 *   (FINAL): exact whatever copy it keeps as long as the copies of a key are identical, so a
 *   key whose copies differ (cost, account, request, time) is a violation;
 * - each rollup (usage graphs, the org's spend page) equals the ledger summed per billed
 *   account, dimension and hour (or day): requests, tokens and cost.
 * Identical raw copies that FINAL hides and no rollup counts are not violations (a race between
 * two pricing instances may leave one); the summary counts them.
 */
export async function checkDuplicates(
  clickhouse: ClickHouseClient,
  options: { month: string; correctionGraceMs?: number },
): Promise<CheckResult> {
  const m = yyyymm(options.month);
  const graceMs = options.correctionGraceMs ?? DEFAULT_CORRECTION_GRACE_MS;
  const [copies, ...rollups] = await Promise.all([
    rawCopies(clickhouse, m),
    ...ROLLUPS.map((rollup) => rollupDifferences(clickhouse, rollup, m, graceMs)),
  ]);
  const examples: Example[] = [...copies.examples];
  let total = copies.conflicting;
  for (const rollup of rollups) {
    examples.push(...rollup.examples);
    total += rollup.total;
  }
  return checked('duplicates', options.month, {
    examples,
    total,
    summary:
      `${copies.keys} ledger keys with more than one raw row (${copies.conflicting} with copies ` +
      `that differ); ${ROLLUPS.length} rollups compared with billing.ledger`,
  });
}

/**
 * The SQL of docs/finance.md "Audit: the books checked": ledger keys stored more than once, and
 * whether their copies differ. Read from billing.ledger_inserts, every raw insert as the rollups
 * saw it: billing.ledger_entries' merges may already have folded the copies into one.
 */
export const RAW_COPIES_SQL = `
SELECT provider, provider_request_id, count() AS copies,
       uniqExact((billed_account, user_id, event_time, cost_nano_usd,
                  model, task, input_tokens, output_tokens)) AS versions
FROM billing.ledger_inserts
WHERE toYYYYMM(event_time) = {m:UInt32}
GROUP BY provider, provider_request_id
HAVING copies > 1`;

async function rawCopies(clickhouse: ClickHouseClient, m: number) {
  const found = await rows<{
    keys: string;
    conflicting: string;
    examples: Array<[string, string, string, string]>;
  }>(
    clickhouse,
    `SELECT count() AS keys, countIf(versions > 1) AS conflicting,
            groupArrayIf(10)((toString(provider), provider_request_id, toString(copies),
                              toString(versions)), versions > 1) AS examples
     FROM (${RAW_COPIES_SQL})`,
    { m },
  );
  const summary = found[0];
  return {
    keys: Number(summary?.keys ?? 0),
    conflicting: Number(summary?.conflicting ?? 0),
    examples: (summary?.examples ?? []).map(([provider, id, copies, versions]): Example => ({
      problem: 'ledger key stored with different copies: billing.ledger shows one of them',
      provider,
      provider_request_id: id,
      copies: Number(copies),
      versions: Number(versions),
    })),
  };
}

type Rollup = (typeof ROLLUPS)[number];

/**
 * Keys where the rollup and the ledger disagree on any measure, with both sides; buckets holding
 * a duplicate still awaiting its correction are left out.
 */
async function rollupDifferences(
  clickhouse: ClickHouseClient,
  rollup: Rollup,
  m: number,
  graceMs: number,
) {
  const key = rollup.key.join(', ');
  const found = await rows<Record<string, string>>(
    clickhouse,
    `SELECT ${rollup.key.map((k) => `toString(${k}) AS ${k}`).join(', ')},
            l.requests AS ledger_requests, r.requests AS rollup_requests,
            toString(l.cost_nano_usd) AS ledger_cost_nano_usd,
            toString(r.cost_nano_usd) AS rollup_cost_nano_usd,
            count() OVER () AS total
     FROM (${rollup.ledger}) AS l
     FULL OUTER JOIN (${rollup.rollup}) AS r USING (${key})
     WHERE (l.requests != r.requests OR l.input_tokens != r.input_tokens
        OR l.output_tokens != r.output_tokens OR l.cost_nano_usd != r.cost_nano_usd)
       AND (billed_account, ${rollup.bucket}) NOT IN (
         SELECT billed_account, ${rollup.bucketOfEvent} FROM (${AWAITING_CORRECTION}))
     ORDER BY ${key} LIMIT 10`,
    { m, graceMs },
  );
  return {
    total: Number(found[0]?.total ?? 0),
    examples: found.map(({ total: _total, ...row }): Example => {
      const figures: Record<string, string | number> = {};
      for (const [name, value] of Object.entries(row)) {
        figures[name] = name.endsWith('_requests') ? Number(value) : nano(value);
      }
      return { problem: `${rollup.name} differs from billing.ledger`, ...figures };
    }),
  };
}
