import type { ClickHouseClient } from '@nanobill/clickhouse';

export const GRANULARITIES = ['hour', 'day', 'month'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export const GROUP_BYS = ['member', 'provider', 'model', 'task'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

// The only SQL that varies with the caller's choices comes from these two objects: a request
// that names anything else is refused before a query is built, and values travel as parameters.
// Buckets start at UTC boundaries whatever the server's time zone (docs/contract.md §5).
const BUCKET_SQL: Readonly<Record<Granularity, string>> = {
  hour: 'hour',
  day: "toStartOfDay(hour, 'UTC')",
  month: "toDateTime(toStartOfMonth(hour, 'UTC'), 'UTC')",
};

// The dimension a graph is stacked by, as billing.usage_by_key_hourly names it.
const DIMENSIONS: Readonly<Record<GroupBy, string>> = {
  member: 'member',
  provider: 'provider',
  model: 'model',
  task: 'task',
};

export interface UsageSeriesOptions {
  /** The billed account: an org (or a user billed for their own requests). */
  account: string;
  /** Inclusive, a whole UTC hour. */
  from: Date;
  /** Exclusive, a whole UTC hour. */
  to: Date;
  granularity: Granularity;
  groupBy: GroupBy;
}

export interface UsagePoint {
  /** The bucket's first instant, ISO-8601 UTC. Edge buckets hold only the hours in the window. */
  t: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** nano-USD, as a decimal string: sums pass 2^53 long before Int64 does. */
  costNanoUsd: string;
}

export interface UsageSeries {
  /** The member's user id, or the provider, model or task. */
  key: string;
  /** Buckets with at least one priced request, in time order. */
  points: UsagePoint[];
}

export interface UsageTotals {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costNanoUsd: string;
}

export interface UsageSeriesResult {
  /** In ClickHouse string order (bytes) of the key. */
  series: UsageSeries[];
  totals: UsageTotals;
}

export interface UsageQuery {
  query: string;
  query_params: {
    account: string;
    dimension: string;
    from: number;
    to: number;
    dayFrom: number;
    dayTo: number;
  };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
// billing.usage_hourly.hour is a DateTime: seconds since 1970 in a UInt32.
const MAX_DATETIME_MS = (2 ** 32 - 1) * 1000;

/**
 * The query behind `usageSeries`, for callers that run it elsewhere. Throws a RangeError for a
 * window that is not whole hours with from < to, or an unknown granularity or grouping (the
 * values may come straight from an HTTP query string).
 */
export function usageSeriesQuery(options: UsageSeriesOptions): UsageQuery {
  const { account, granularity, groupBy } = options;
  if (typeof account !== 'string') throw new TypeError('account must be a string');
  const from = wholeHour('from', options.from);
  const to = wholeHour('to', options.to);
  if (from >= to) {
    throw new RangeError(
      `the window must end after it starts: from ${options.from.toISOString()}, to ${options.to.toISOString()}`,
    );
  }
  const bucket = pick(BUCKET_SQL, granularity, 'granularity');
  const dimension = pick(DIMENSIONS, groupBy, 'groupBy');
  // Days and months read the daily rollup for the whole UTC days of the window and the hourly one
  // for the hours at its edges; hours read the hourly rollup alone (an empty span of days).
  let dayFrom = Math.ceil(from / DAY_MS) * DAY_MS;
  let dayTo = Math.floor(to / DAY_MS) * DAY_MS;
  if (granularity === 'hour' || dayFrom >= dayTo) dayFrom = dayTo = to;
  const rows = (table: string, time: string, span: string) =>
    `SELECT key, ${time} AS hour, requests, input_tokens, output_tokens, cost_nano_usd
     FROM ${table}
     WHERE billed_account = {account:String} AND dimension = {dimension:String} AND (${span})`;
  const at = (name: string) => `toDateTime({${name}:UInt32}, 'UTC')`;
  // Only the spans the window has: an empty one still costs ClickHouse its planning and an index
  // look-up (a 24-hour graph without its empty daily half is about twice as fast).
  const hours = [
    ...(from < dayFrom ? [`(hour >= ${at('from')} AND hour < ${at('dayFrom')})`] : []),
    ...(dayTo < to ? [`(hour >= ${at('dayTo')} AND hour < ${at('to')})`] : []),
  ];
  const branches = [
    ...(hours.length > 0 ? [rows('billing.usage_by_key_hourly', 'hour', hours.join(' OR '))] : []),
    ...(dayFrom < dayTo
      ? [
          rows(
            'billing.usage_by_key_daily',
            "toDateTime(day, 'UTC')",
            `day >= toDate(${at('dayFrom')}) AND day < toDate(${at('dayTo')})`,
          ),
        ]
      : []),
  ];
  return {
    // Aliases differ from the column names: an alias named like a column would replace it in WHERE.
    query: `SELECT key AS series_key, toUnixTimestamp(${bucket}) AS bucket_s,
                   sum(requests) AS n, sum(input_tokens) AS input, sum(output_tokens) AS output,
                   toString(sum(toInt128(cost_nano_usd))) AS cost
            FROM (${branches.join(' UNION ALL ')})
            GROUP BY series_key, bucket_s
            ORDER BY series_key, bucket_s`,
    query_params: {
      account,
      dimension,
      from: from / 1000,
      to: to / 1000,
      dayFrom: dayFrom / 1000,
      dayTo: dayTo / 1000,
    },
  };
}

/**
 * Requests, tokens and cost of one billed account over [from, to), per bucket and per member,
 * provider, model or task. Reads the rollup of that one dimension (one row per account, hour and
 * key, not one per request) and always sums at read time, so the figures equal the ledger's before and after
 * ClickHouse merges the rollup.
 */
export async function usageSeries(
  clickhouse: ClickHouseClient,
  options: UsageSeriesOptions,
): Promise<UsageSeriesResult> {
  const { query, query_params } = usageSeriesQuery(options);
  const result = await clickhouse.query({ query, query_params, format: 'JSONCompactEachRow' });
  type Raw = [string, number | string, Int, Int, Int, Int];
  const series: UsageSeries[] = [];
  const totals = { requests: 0n, inputTokens: 0n, outputTokens: 0n, cost: 0n };
  // A month by hour is thousands of points over a few hundred buckets: format each bucket once.
  const instants = new Map<string, string>();
  const instant = (bucketS: number | string) => {
    const k = String(bucketS);
    let iso = instants.get(k);
    if (iso === undefined) instants.set(k, (iso = new Date(Number(bucketS) * 1000).toISOString()));
    return iso;
  };
  for (const [key, bucketS, n, input, output, cost] of await result.json<Raw>()) {
    let current = series.at(-1);
    if (current === undefined || current.key !== key) {
      current = { key, points: [] };
      series.push(current);
    }
    const point = { requests: BigInt(n), input: BigInt(input), output: BigInt(output) };
    const costNano = BigInt(cost);
    current.points.push({
      t: instant(bucketS),
      requests: safe(point.requests, 'requests'),
      inputTokens: safe(point.input, 'input tokens'),
      outputTokens: safe(point.output, 'output tokens'),
      costNanoUsd: String(cost),
    });
    totals.requests += point.requests;
    totals.inputTokens += point.input;
    totals.outputTokens += point.output;
    totals.cost += costNano;
  }
  return {
    series,
    totals: {
      requests: safe(totals.requests, 'requests'),
      inputTokens: safe(totals.inputTokens, 'input tokens'),
      outputTokens: safe(totals.outputTokens, 'output tokens'),
      costNanoUsd: totals.cost.toString(),
    },
  };
}

/** 64-bit integers come back as strings from a server, and may be numbers from other clients. */
type Int = string | number;

function wholeHour(name: string, date: Date): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new RangeError(`${name} must be a valid Date`);
  if (ms % HOUR_MS !== 0) {
    throw new RangeError(`${name} must be a whole UTC hour, got ${date.toISOString()}`);
  }
  if (ms < 0 || ms > MAX_DATETIME_MS) {
    throw new RangeError(`${name} is outside 1970–2106: ${date.toISOString()}`);
  }
  return ms;
}

function pick<K extends string>(table: Readonly<Record<K, string>>, value: K, name: string) {
  // Own keys only: 'constructor' or '__proto__' must not reach the query.
  if (typeof value !== 'string' || !Object.hasOwn(table, value)) {
    throw new RangeError(
      `${name} must be one of ${Object.keys(table).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return table[value];
}

// Counts are JSON numbers for the dashboard; one past 2^53 would be silently wrong, so refuse it.
function safe(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`${what} (${value}) is too large for a JSON number`);
  }
  return Number(value);
}
