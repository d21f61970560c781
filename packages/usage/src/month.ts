import type { ClickHouseClient } from '@nanobill/clickhouse';
import { monthBounds } from '@nanobill/calendar';

/**
 * Everything billed to `account` in the UTC month 'YYYY-MM' so far, in nano-USD: routed cost
 * before credits, the figure spend is compared with. From the rollup by task, so it reads
 * a few rows per hour, not one per request.
 */
export async function monthToDateCost(
  clickhouse: ClickHouseClient,
  account: string,
  month: string,
): Promise<bigint> {
  if (typeof account !== 'string') throw new TypeError('account must be a string');
  const { start, end } = monthBounds(month);
  const result = await clickhouse.query({
    // Any one dimension holds every request once; tasks are the fewest rows.
    query: `SELECT toString(sum(toInt128(cost_nano_usd))) FROM billing.usage_by_key_hourly
            WHERE billed_account = {account:String} AND dimension = 'task'
              AND hour >= toDateTime({from:UInt32}, 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')`,
    query_params: { account, from: seconds(start), to: seconds(end) },
    format: 'JSONCompactEachRow',
  });
  const [row] = await result.json<[string | number]>();
  return BigInt(row?.[0] ?? 0);
}

// The rollup's hours are DateTimes (1970–2106); a month outside them simply has no rows.
function seconds(date: Date): number {
  return Math.min(Math.max(date.getTime() / 1000, 0), 2 ** 32 - 1);
}
