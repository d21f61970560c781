import type { ClickHouseClient } from '@nanobill/clickhouse';

/** A month as ClickHouse's toYYYYMM gives it. */
export const yyyymm = (month: string): number => Number(month.replace('-', ''));

/** Rows of a query as objects (numbers of 64 bits and more come as strings: exact). */
export async function rows<T>(
  clickhouse: ClickHouseClient,
  query: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  const result = await clickhouse.query({
    query,
    query_params: params,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
  });
  return result.json<T>();
}
