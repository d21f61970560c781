import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { ClickHouseClient } from '@nanobill/clickhouse';

export const QueryRequest = z.object({
  sql: z.string().min(1).max(100_000),
  format: z.string().regex(/^[A-Za-z0-9]+$/, 'a ClickHouse output format name'),
});
export type QueryRequest = z.infer<typeof QueryRequest>;

/**
 * Runs one statement with `readonly=1`: finance's ad-hoc SQL can read everything and change
 * nothing. The output format is ClickHouse's own (`TabSeparated`, `CSVWithNames`, `JSON`, …).
 */
export async function runReadOnly(
  client: ClickHouseClient,
  request: QueryRequest,
): Promise<Readable> {
  const { sql, format } = QueryRequest.parse(request);
  const statement = sql.trim().replace(/;+$/, '');
  const result = await client.exec({
    query: `${statement}\nFORMAT ${format}`,
    clickhouse_settings: { readonly: '1' },
  });
  return result.stream;
}
