import { z } from 'zod';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { StoredLine } from '@nanobill/statement-lines';
import { monthStatements } from '@nanobill/statements';

export const StatementsRequest = z.object({
  month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'month must be YYYY-MM'),
  account: z.string().min(1).optional(),
});
export type StatementsRequest = z.infer<typeof StatementsRequest>;

export async function loadStatements(
  clickhouse: ClickHouseClient,
  request: StatementsRequest,
): Promise<StoredLine[]> {
  const accounts = new AccountFactsReader(clickhouse, new AccountHistory());
  await accounts.refresh();
  const lines = await monthStatements(clickhouse, accounts.history, request.month, new Date());
  return request.account ? lines.filter((l) => l.account_id === request.account) : lines;
}

/** Amounts as decimal strings of nano-USD: exact, whatever reads them. */
export function linesToJson(lines: StoredLine[]): string {
  return JSON.stringify(lines, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}
