import type { ClickHouseClient } from '@nanobill/clickhouse';

/**
 * The version of `account`'s usage graphs (billing.usage_versions, migration 0019): a count that
 * grows whenever rows land in the rollups the graphs read, and only then. Two reads that return
 * the same version saw the same rollup rows for the account, so an answer computed after reading
 * a version may be served again while the version stays the same. Read it BEFORE the answer: an
 * answer read after it holds at least what the version counts. One row per account once merged.
 */
export async function usageVersion(clickhouse: ClickHouseClient, account: string): Promise<string> {
  if (typeof account !== 'string') throw new TypeError('account must be a string');
  const result = await clickhouse.query({
    query: `SELECT toString(sum(rollup_rows)) FROM billing.usage_versions
            WHERE billed_account = {account:String}`,
    query_params: { account },
    format: 'JSONCompactEachRow',
  });
  return (await result.json<[string]>())[0]?.[0] ?? '0';
}
