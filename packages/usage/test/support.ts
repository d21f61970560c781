import { createRng } from '@nanobill/router-simulator';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { insertLedgerEntries, ledgerEntry, type LedgerEntryRow } from '@nanobill/testkit';
import type { Granularity, GroupBy, UsageSeriesOptions, UsageSeriesResult } from '../src/index.js';

/** A billing.ledger_entries row as the pricing service writes it (every column it sets). */
export type LedgerEntry = LedgerEntryRow;

export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Seeded, so a failing property replays. */
export function seededRandom(seed: number): () => number {
  const rng = createRng(seed);
  return () => rng.float();
}

export function entry(
  i: number,
  fields: Pick<
    LedgerEntry,
    'billed_account' | 'user_id' | 'provider' | 'model' | 'task' | 'cost_nano_usd'
  > & { at: number; input_tokens?: number | null; output_tokens?: number | null },
): LedgerEntry {
  const { billed_account, user_id, cost_nano_usd, at, ...columns } = fields;
  return ledgerEntry({
    ...columns,
    account: billed_account,
    user: user_id,
    nano: cost_nano_usd,
    at: new Date(at).toISOString(),
    pricedAt: new Date(at + 60_000).toISOString(),
    provider_request_id: `p-${i}`,
    request_id: `r-${i}`,
    cost_source: fields.provider === 'hf-inference' ? 'hf_compute_time' : 'provider_api',
    input_tokens: fields.input_tokens ?? null,
    output_tokens: fields.output_tokens ?? null,
  });
}

export const insertLedger = insertLedgerEntries;

function bucketStart(ms: number, granularity: Granularity): number {
  if (granularity === 'hour') return Math.floor(ms / HOUR_MS) * HOUR_MS;
  if (granularity === 'day') return Math.floor(ms / DAY_MS) * DAY_MS;
  const date = new Date(ms);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

const KEY: Record<GroupBy, (row: LedgerEntry) => string> = {
  member: (r) => r.user_id,
  provider: (r) => r.provider,
  model: (r) => r.model,
  task: (r) => r.task,
};

interface Sums {
  requests: bigint;
  input: bigint;
  output: bigint;
  cost: bigint;
}

/** What usageSeries must answer, computed from the rows themselves, with bigint sums. */
export function expectedSeries(rows: LedgerEntry[], options: UsageSeriesOptions) {
  const from = options.from.getTime();
  const to = options.to.getTime();
  const byKey = new Map<string, Map<number, Sums>>();
  for (const row of rows) {
    const at = Date.parse(row.event_time);
    if (row.billed_account !== options.account || at < from || at >= to) continue;
    const key = KEY[options.groupBy](row);
    const buckets = byKey.get(key) ?? new Map<number, Sums>();
    byKey.set(key, buckets);
    const t = bucketStart(at, options.granularity);
    const sums = buckets.get(t) ?? { requests: 0n, input: 0n, output: 0n, cost: 0n };
    buckets.set(t, sums);
    sums.requests += 1n;
    sums.input += BigInt(row.input_tokens ?? 0);
    sums.output += BigInt(row.output_tokens ?? 0);
    sums.cost += BigInt(row.cost_nano_usd);
  }
  const flat: Array<[string, number, Sums]> = [];
  for (const [key, buckets] of byKey) {
    for (const [t, sums] of buckets) flat.push([key, t, sums]);
  }
  // The test data's keys are BMP text, where UTF-16 order is ClickHouse's byte order.
  flat.sort(([ka, ta], [kb, tb]) => (ka < kb ? -1 : ka > kb ? 1 : ta - tb));
  return toResult(flat);
}

/** Flat (key, bucket start ms, sums) rows in order → the usageSeries shape. */
export function toResult(flat: Array<[string, number, Sums]>): UsageSeriesResult {
  const result: UsageSeriesResult = {
    series: [],
    totals: { requests: 0, inputTokens: 0, outputTokens: 0, costNanoUsd: '0' },
  };
  const totals: Sums = { requests: 0n, input: 0n, output: 0n, cost: 0n };
  for (const [key, t, sums] of flat) {
    let series = result.series.at(-1);
    if (series?.key !== key) {
      series = { key, points: [] };
      result.series.push(series);
    }
    series.points.push({
      t: new Date(t).toISOString(),
      requests: Number(sums.requests),
      inputTokens: Number(sums.input),
      outputTokens: Number(sums.output),
      costNanoUsd: sums.cost.toString(),
    });
    totals.requests += sums.requests;
    totals.input += sums.input;
    totals.output += sums.output;
    totals.cost += sums.cost;
  }
  result.totals = {
    requests: Number(totals.requests),
    inputTokens: Number(totals.input),
    outputTokens: Number(totals.output),
    costNanoUsd: totals.cost.toString(),
  };
  return result;
}

// Written here independently of the package: the ledger side of the comparison.
const LEDGER_KEY: Record<GroupBy, string> = {
  member: 'user_id',
  provider: 'provider',
  model: 'model',
  task: 'task',
};
const LEDGER_BUCKET: Record<Granularity, string> = {
  hour: "toStartOfHour(event_time, 'UTC')",
  day: "toStartOfDay(event_time, 'UTC')",
  month: "toDateTime(toStartOfMonth(event_time, 'UTC'), 'UTC')",
};

/** The same figures straight from billing.ledger (the FINAL view), one row per request. */
export async function ledgerSeries(clickhouse: ClickHouseClient, options: UsageSeriesOptions) {
  const result = await clickhouse.query({
    query: `SELECT ${LEDGER_KEY[options.groupBy]} AS k,
                   toUnixTimestamp(${LEDGER_BUCKET[options.granularity]}) AS b,
                   count(), sum(ifNull(input_tokens, 0)), sum(ifNull(output_tokens, 0)),
                   sum(toInt128(cost_nano_usd))
            FROM billing.ledger
            WHERE billed_account = {account:String}
              AND event_time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
              AND event_time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
            GROUP BY k, b ORDER BY k, b`,
    query_params: {
      account: options.account,
      from: options.from.getTime(),
      to: options.to.getTime(),
    },
    format: 'JSONCompactEachRow',
  });
  type Raw = [string, number, string, string, string, string];
  return toResult(
    (await result.json<Raw>()).map(([k, b, n, input, output, cost]) => [
      k,
      b * 1000,
      { requests: BigInt(n), input: BigInt(input), output: BigInt(output), cost: BigInt(cost) },
    ]),
  );
}
