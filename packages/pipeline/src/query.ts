import type { Readable } from 'node:stream';
import { z } from 'zod';
import { FINANCE_SQL_MAX_LENGTH, type FinanceSql } from '@nanobill/clickhouse';

export const QueryRequest = z.object({
  sql: z.string().min(1).max(FINANCE_SQL_MAX_LENGTH),
  format: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'a ClickHouse output format name'),
});
export type QueryRequest = z.infer<typeof QueryRequest>;

/**
 * `nanobill query`: finance SQL (one SELECT on billing data, checked against the allowlist, with
 * the finance limits, read-only), in the same place whichever way it arrives (the running
 * process's socket, embedded ClickHouse, a server). The output format is ClickHouse's own
 * (`TabSeparated`, `CSVWithNames`, `JSON`, …).
 */
export async function runFinanceQuery(
  finance: FinanceSql,
  request: QueryRequest,
): Promise<Readable> {
  const { sql, format } = QueryRequest.parse(request);
  return finance.stream(sql, format);
}
