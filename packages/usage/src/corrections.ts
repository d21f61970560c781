import type { ClickHouseClient } from '@nanobill/clickhouse';

/**
 * Raw inserts this long before the last pass's end are looked at again: a row's `inserted_at` is
 * the server's clock when its insert began, and it may become visible a little later.
 */
export const CORRECTION_OVERLAP_MS = 10 * 60_000;

// The rollup key of a ledger row, at the precision the rollups' views bucket it from.
const ROW = 'provider, provider_request_id, billed_account, event_time, user_id, model, task';

/**
 * Requests inserted more than once, among those with a raw insert since `{since}`: looked up by
 * key in billing.ledger_inserts (its primary key), so a pass reads the recent inserts and the
 * rows of the few duplicated requests, not the ledger.
 */
const DUPLICATED = `(provider, provider_request_id) IN (
  SELECT provider, provider_request_id FROM billing.ledger_inserts
  WHERE (provider, provider_request_id) IN (
    SELECT provider, provider_request_id FROM billing.ledger_inserts
    WHERE inserted_at >= fromUnixTimestamp64Milli({since:Int64}))
  GROUP BY provider, provider_request_id
  HAVING count() > 1)`;

/**
 * One statement, idempotent: for each duplicated request and rollup key, what the rollups hold
 * (every raw insert, and the corrections written so far) is taken from what the ledger holds (its
 * one row, FINAL), and the difference, when not zero, is written as a correction, which the
 * correction views add to the three rollups. Running it again writes nothing; a row inserted
 * between the reads of two tables is set right by the next pass (it is still recent then).
 */
const CORRECT = `INSERT INTO billing.rollup_corrections
  (${ROW}, requests, input_tokens, output_tokens, cost_nano_usd)
SELECT ${ROW}, sum(r), sum(i), sum(o), sum(c)
FROM (
  SELECT ${ROW}, toInt64(1) AS r, toInt64(ifNull(input_tokens, 0)) AS i,
         toInt64(ifNull(output_tokens, 0)) AS o, toInt128(cost_nano_usd) AS c
  FROM billing.ledger_entries FINAL WHERE ${DUPLICATED}
  UNION ALL
  SELECT ${ROW}, toInt64(-1), -toInt64(ifNull(input_tokens, 0)),
         -toInt64(ifNull(output_tokens, 0)), -toInt128(cost_nano_usd)
  FROM billing.ledger_inserts WHERE ${DUPLICATED}
  UNION ALL
  SELECT ${ROW}, -requests, -input_tokens, -output_tokens, -cost_nano_usd
  FROM billing.rollup_corrections WHERE ${DUPLICATED}
)
GROUP BY ${ROW}
HAVING sum(r) != 0 OR sum(i) != 0 OR sum(o) != 0 OR sum(c) != 0`;

/**
 * Makes the usage rollups equal billing.ledger for every request inserted into the ledger more
 * than once since the last pass (minus `CORRECTION_OVERLAP_MS`), and records the pass. Run by
 * one process at a time (the statements singleton); returns the correction rows written.
 */
export async function correctRollups(clickhouse: ClickHouseClient): Promise<number> {
  const since = (await lastChecked(clickhouse)) - CORRECTION_OVERLAP_MS;
  // The server's clock, the one `inserted_at` is taken from.
  const startedAt = await serverNow(clickhouse);
  const before = await correctionRows(clickhouse);
  await clickhouse.command({ query: CORRECT, query_params: { since } });
  const corrected = (await correctionRows(clickhouse)) - before;
  await clickhouse.insert({
    table: 'billing.rollup_checks',
    values: [{ checked_until: startedAt, corrected }],
    format: 'JSONEachRow',
  });
  return corrected;
}

/** Epoch ms of the last pass; 0 (all of it) before the first. */
async function lastChecked(clickhouse: ClickHouseClient): Promise<number> {
  const result = await clickhouse.query({
    query: 'SELECT toUnixTimestamp64Milli(max(checked_until)), count() FROM billing.rollup_checks',
    format: 'JSONCompactEachRow',
  });
  const [row] = await result.json<[string, string]>();
  return Number(row?.[1] ?? 0) === 0 ? 0 : Number(row?.[0]);
}

async function serverNow(clickhouse: ClickHouseClient): Promise<string> {
  const result = await clickhouse.query({
    query: "SELECT toString(now64(3, 'UTC'))",
    format: 'JSONCompactEachRow',
  });
  return (await result.json<[string]>())[0]![0];
}

async function correctionRows(clickhouse: ClickHouseClient): Promise<number> {
  const result = await clickhouse.query({
    query: 'SELECT count() FROM billing.rollup_corrections',
    format: 'JSONCompactEachRow',
  });
  return Number((await result.json<[string]>())[0]?.[0] ?? 0);
}
