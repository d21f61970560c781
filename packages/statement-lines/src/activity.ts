import { attribute, type AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { MonthActivity } from './lines.js';

/** Instants as epoch milliseconds for ClickHouse parameters; "never" is year 9999. */
const NEVER_MS = 253_402_300_799_000;

const yyyymm = (month: string) => Number(month.replace('-', ''));

async function sums(clickhouse: ClickHouseClient, query: string, params: Record<string, unknown>) {
  const result = await clickhouse.query({
    query,
    query_params: params,
    format: 'JSONCompactEachRow',
  });
  return new Map(
    (await result.json<[string, string]>()).map(([account, nano]) => [account, BigInt(nano)]),
  );
}

/**
 * Routed cost per billed account of the month: its own requests priced before `pricedBeforeMs`
 * (gross), and the late costs of earlier final months priced during it (adjustments). One
 * account's only when `account` is given (the spend page's month to date).
 */
export async function routedCosts(
  clickhouse: ClickHouseClient,
  month: string,
  options: { pricedBeforeMs?: number; finalized: ReadonlyMap<string, number>; account?: string },
): Promise<Pick<MonthActivity, 'gross' | 'adjustments'>> {
  const m = yyyymm(month);
  const only = options.account === undefined ? '' : 'AND billed_account = {account:String}';
  const account = options.account ?? '';
  const gross = await sums(
    clickhouse,
    `SELECT billed_account, toString(sum(toInt128(cost_nano_usd))) FROM billing.ledger
     WHERE toYYYYMM(event_time) = {m:UInt32} AND priced_at < fromUnixTimestamp64Milli({before:Int64}) ${only}
     GROUP BY billed_account`,
    { m, before: options.pricedBeforeMs ?? NEVER_MS, account },
  );
  const earlier = [...options.finalized].filter(([other]) => other < month);
  if (earlier.length === 0) return { gross, adjustments: new Map() };
  const adjustments = await sums(
    clickhouse,
    `SELECT billed_account, toString(sum(toInt128(cost_nano_usd))) FROM billing.ledger
     WHERE toYYYYMM(priced_at) = {m:UInt32}
       AND has({months:Array(UInt32)}, toYYYYMM(event_time))
       AND priced_at >= fromUnixTimestamp64Milli(
             arrayElement({finalizedAt:Array(Int64)}, indexOf({months:Array(UInt32)}, toYYYYMM(event_time))))
       ${only}
     GROUP BY billed_account`,
    {
      m,
      months: earlier.map(([other]) => yyyymm(other)),
      finalizedAt: earlier.map(([, at]) => at),
      account,
    },
  );
  return { gross, adjustments };
}

/** What a month's statements are made of, read from the ledger and billing.usage. */
export async function readMonthActivity(
  clickhouse: ClickHouseClient,
  history: AccountHistory,
  month: string,
  options: { pricedBeforeMs?: number; finalized: ReadonlyMap<string, number>; now: Date },
): Promise<MonthActivity> {
  return {
    ...(await routedCosts(clickhouse, month, options)),
    customKeyRequests: await customKeyCounts(clickhouse, history, yyyymm(month), options.now),
  };
}

/** Custom-key requests per account, attributed like routed ones (HF bills nothing for them). */
async function customKeyCounts(
  clickhouse: ClickHouseClient,
  history: AccountHistory,
  m: number,
  now: Date,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const add = (account: string, n: number) => counts.set(account, (counts.get(account) ?? 0) + n);
  const plain = await clickhouse.query({
    query: `SELECT user_id, count() FROM billing.usage
            WHERE billing_mode = 'custom_key' AND toYYYYMM(event_time) = {m:UInt32} AND bill_to IS NULL
            GROUP BY user_id`,
    query_params: { m },
    format: 'JSONCompactEachRow',
  });
  for (const [user, n] of await plain.json<[string, string]>()) add(user, Number(n));
  const named = await clickhouse.query({
    query: `SELECT user_id, bill_to, toUnixTimestamp64Milli(event_time) FROM billing.usage
            WHERE billing_mode = 'custom_key' AND toYYYYMM(event_time) = {m:UInt32} AND bill_to IS NOT NULL`,
    query_params: { m },
    format: 'JSONCompactEachRow',
  });
  for (const [userId, billTo, ms] of await named.json<[string, string, string]>()) {
    const billed = attribute({ userId, billTo, timestamp: new Date(Number(ms)) }, history, {
      now,
      graceMs: 0,
    });
    if (billed.decision !== 'wait') add(billed.accountId, 1);
  }
  return counts;
}

/**
 * The cut-off of every month that turned final (epoch ms): the winning claim's, the first stored
 * (server clock, then claim id). A final statement of month M covers the ledger rows of M with
 * `priced_at` before M's cut-off, and the rows of earlier final months E priced during M at or
 * after E's cut-off.
 */
export async function finalizedMonths(clickhouse: ClickHouseClient): Promise<Map<string, number>> {
  const result = await clickhouse.query({
    query: `SELECT month, toUnixTimestamp64Milli(argMin(cutoff, (claimed_at, claim_id)))
            FROM billing.statement_claims GROUP BY month`,
    format: 'JSONCompactEachRow',
  });
  return new Map((await result.json<[string, string]>()).map(([month, at]) => [month, Number(at)]));
}

/**
 * What the account's statement of `month` says so far: its routed cost, adjustments of earlier
 * final months included (the spend page shows this figure, so it equals the statement's draft).
 */
export async function monthToDateGross(
  clickhouse: ClickHouseClient,
  account: string,
  month: string,
): Promise<bigint> {
  const finalized = await finalizedMonths(clickhouse);
  const { gross, adjustments } = await routedCosts(clickhouse, month, {
    finalized: new Map([...finalized].filter(([other]) => other !== month)),
    account,
  });
  return (gross.get(account) ?? 0n) + (adjustments.get(account) ?? 0n);
}
