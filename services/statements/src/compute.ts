import { attribute, type AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { statementLine, type StatementLine, type StatementStatus } from '@nanobill/credits';
import { monthBounds } from '@nanobill/calendar';
import { accountMonth } from '@nanobill/accounts';

/** Instants as epoch milliseconds for ClickHouse parameters; "never" is year 9999. */
const NEVER_MS = 253_402_300_799_000;

export interface MonthActivity {
  /** Routed cost per billed account of the month's own requests, priced before `pricedBefore`. */
  gross: Map<string, bigint>;
  /** Late costs of earlier, already final months, priced during this month. */
  adjustments: Map<string, bigint>;
  customKeyRequests: Map<string, number>;
}

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

/** An account whose line could not be computed, and why. */
export interface FailedAccount {
  accountId: string;
  error: unknown;
}

/**
 * One line per account with any activity in the month; pure given the activity and history.
 * Each account is computed on its own: one whose history cannot be read (e.g. a plan history that
 * mixes user and org facts) is returned in `failed` and never stops the others' lines.
 */
export function statementLines(
  month: string,
  activity: MonthActivity,
  history: AccountHistory,
  status: StatementStatus,
): { lines: StatementLine[]; failed: FailedAccount[] } {
  const accounts = new Set([
    ...activity.gross.keys(),
    ...activity.adjustments.keys(),
    ...activity.customKeyRequests.keys(),
  ]);
  const { end } = monthBounds(month);
  const lines: StatementLine[] = [];
  const failed: FailedAccount[] = [];
  for (const accountId of [...accounts].sort()) {
    try {
      const account = accountMonth(history, accountId, month, end.getTime() - 1);
      const { facts } = account;
      lines.push(
        statementLine({
          month,
          accountId,
          accountKind: facts.kind,
          plan: facts.plan,
          gross: activity.gross.get(accountId) ?? 0n,
          adjustment: activity.adjustments.get(accountId) ?? 0n,
          grant: account.grant,
          payAsYouGo: account.payAsYouGo,
          customKeyRequests: activity.customKeyRequests.get(accountId) ?? 0,
          status,
        }),
      );
    } catch (error) {
      failed.push({ accountId, error });
    }
  }
  return { lines, failed };
}
