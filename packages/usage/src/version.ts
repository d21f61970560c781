import type { ClickHouseClient } from '@nanobill/clickhouse';

/**
 * The versions of `accounts`' usage graphs (billing.usage_versions, migration 0019): each a count
 * that grows whenever rows land in the rollups the graphs read, and only then ('0' for an account
 * without any). Two reads that return the same version saw the same rollup rows for the account,
 * so an answer computed after reading a version may be served again while the version stays the
 * same. Read it BEFORE the answer: an answer read after it holds at least what the version
 * counts. One row per account once merged, looked up by the table's key.
 */
export async function usageVersions(
  clickhouse: ClickHouseClient,
  accounts: readonly string[],
): Promise<Map<string, string>> {
  if (!accounts.every((a) => typeof a === 'string')) {
    throw new TypeError('accounts must be strings');
  }
  const versions = new Map(accounts.map((account) => [account, '0']));
  if (accounts.length === 0) return versions;
  const result = await clickhouse.query({
    query: `SELECT billed_account, toString(sum(rollup_rows)) FROM billing.usage_versions
            WHERE billed_account IN {accounts:Array(String)}
            GROUP BY billed_account`,
    query_params: { accounts },
    format: 'JSONCompactEachRow',
  });
  for (const [account, version] of await result.json<[string, string]>()) {
    versions.set(account, version);
  }
  return versions;
}
