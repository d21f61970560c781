import type { ClickHouseSettings } from '@clickhouse/client';

/** Room in `max_query_size` for what a client adds around the query text (chdb: its `SET`s). */
const QUERY_SIZE_MARGIN_BYTES = 4_096;

/** A query and the settings it needs, as `clickhouse.query` takes them. */
export interface QueryWithList {
  query: string;
  clickhouse_settings: ClickHouseSettings;
}

/**
 * A query that carries a long list of strings (e.g. the request ids of a batch of 20,000 rows)
 * inline: `build` gets a SQL expression of type `Array(String)` holding `values`, made of one JSON
 * string literal that ClickHouse decodes (`JSONExtract`), and the query comes back with the
 * `max_query_size` its text needs.
 *
 * Why not an `Array(String)` query parameter: a server takes parameters in the URL (at most
 * `http_max_uri_size`, 1 MiB by default), so a long list had to be cut into chunks, each of which
 * reads the table again; and chdb formats and binds every element in JavaScript, behind one lock
 * for the whole process. Measured (bench:inserts, 25,000 ids against 1M stored rows): the
 * parameter alone costs 2.5 times the inline literal.
 *
 * Injection-safe: every backslash and quote of the JSON text is escaped (`stringLiteral`), so the
 * literal ends exactly where the JSON does. A value with a lone surrogate is refused: ClickHouse's
 * JSONExtract turns the WHOLE list into `[]` for one such element, so a duplicate check would
 * silently find nothing (an Array(String) parameter keeps the others).
 */
export function queryWithList(
  values: readonly string[],
  build: (list: string) => string,
): QueryWithList {
  const malformed = values.findIndex((value) => !value.isWellFormed());
  if (malformed !== -1) {
    throw new RangeError(
      `queryWithList: value ${malformed} is not well-formed UTF-16 (a lone surrogate)`,
    );
  }
  const query = build(`JSONExtract(${stringLiteral(JSON.stringify(values))}, 'Array(String)')`);
  return {
    query,
    clickhouse_settings: {
      max_query_size: String(Buffer.byteLength(query) + QUERY_SIZE_MARGIN_BYTES),
    },
  };
}

/**
 * `value` as a ClickHouse string literal. Inside single quotes ClickHouse gives a meaning to a
 * backslash (an escape) and to a quote (the end); both are escaped, every other character stands
 * for itself.
 */
export function stringLiteral(value: string): string {
  return `'${value.replace(/[\\']/g, '\\$&')}'`;
}
