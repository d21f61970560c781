import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';

/** Every account snapshot consumed (billing.account_snapshots), as the services read them. */
export async function readHistory(clickhouse: ClickHouseClient): Promise<AccountHistory> {
  const reader = new AccountFactsReader(clickhouse, new AccountHistory());
  await reader.refresh();
  return reader.history;
}
