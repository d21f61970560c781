import type { ClickHouseClient } from '@nanobill/clickhouse';

/**
 * The rows of one named read: arrays in column order (`JSONCompactEachRow`), or objects by
 * column name (`JSONEachRow`).
 */
export async function readRows<Row>(
  clickhouse: ClickHouseClient,
  query: string,
  params: Record<string, unknown> = {},
  format: 'JSONCompactEachRow' | 'JSONEachRow' = 'JSONCompactEachRow',
): Promise<Row[]> {
  const result = await clickhouse.query({ query, query_params: params, format });
  return result.json<Row>();
}
