import type { ClickHouseSettings } from '@clickhouse/client';

/**
 * Embedded chdb runs every query that has parameters through ONE chain for the whole process
 * (chdb's `globalParamChain`: its parameter state is not isolated per connection), so on one
 * embedded engine a parameterized query of any service waits for those of all the others, while
 * queries without parameters run side by side on their own connections. Measured in the whole
 * pipeline bench (issue 15): during a pricing round the alerts, enforcement and pricing look-ups
 * queue ahead of ingest's duplicate check, and ingest stops storing for seconds.
 *
 * So an embedded connection writes the parameters into the query itself, as ClickHouse's own
 * substitution would (`{name:Type}` becomes `_CAST(<literal>, 'Type')`), every value a literal
 * that the parser reads back exactly (strings quoted and escaped, numbers checked). A value it
 * cannot write as a literal with certainty (a Date, an object, a non-finite number, an
 * `Identifier` parameter) leaves the whole query to chdb's own binding, as before.
 */

/** ClickHouse's default `max_query_size`: above it, the inlined query raises the limit. */
const DEFAULT_MAX_QUERY_SIZE = 262_144;

/** What is asked of a connection (`query`, `command`, `exec`): the fields inlining touches. */
export interface ParameterizedRequest {
  query: string;
  query_params?: Record<string, unknown>;
  clickhouse_settings?: ClickHouseSettings;
}

/**
 * The request with its parameters written into its query (and `max_query_size` raised when the
 * literals make it longer than the default), or the request unchanged when it has none or one
 * of them cannot be inlined.
 */
export function withInlinedParams<Request extends ParameterizedRequest>(request: Request): Request {
  const params = request.query_params;
  if (params === undefined || Object.keys(params).length === 0) return request;
  const query = inlineQueryParams(request.query, params);
  if (query === undefined) return request;
  const bytes = Buffer.byteLength(query);
  return {
    ...request,
    query,
    query_params: undefined,
    clickhouse_settings:
      bytes < DEFAULT_MAX_QUERY_SIZE
        ? request.clickhouse_settings
        : { ...request.clickhouse_settings, max_query_size: String(bytes + 1) },
  };
}

/** `{name:Type}` at the start of `rest` (ClickHouse's substitution syntax). */
const PLACEHOLDER = /^\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}/;

/**
 * `sql` with each `{name:Type}` of `params` replaced by `_CAST(<literal>, 'Type')`, outside
 * quoted strings, quoted identifiers and comments (where ClickHouse does not substitute either);
 * `undefined` when one of them cannot be written as a literal. A placeholder without a value
 * stays, for ClickHouse to refuse as it would have.
 */
export function inlineQueryParams(
  sql: string,
  params: Readonly<Record<string, unknown>>,
): string | undefined {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const skipped = skipLiteralOrComment(sql, i);
    if (skipped > i) {
      out += sql.slice(i, skipped);
      i = skipped;
      continue;
    }
    const match = sql[i] === '{' ? PLACEHOLDER.exec(sql.slice(i)) : null;
    if (match === null || !Object.hasOwn(params, match[1]!)) {
      out += sql[i];
      i += 1;
      continue;
    }
    const type = match[2]!;
    if (/^Identifier$/i.test(type)) return undefined;
    const literal = sqlLiteral(params[match[1]!]);
    if (literal === undefined) return undefined;
    out += `_CAST(${literal}, ${quoteString(type)})`;
    i += match[0].length;
  }
  return out;
}

/**
 * The end of the quoted string, quoted identifier or comment starting at `i`, or `i` when none
 * does. An unterminated one runs to the end of `sql` (ClickHouse refuses it anyway).
 */
function skipLiteralOrComment(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '"' || c === '`') {
    let j = i + 1;
    while (j < sql.length) {
      if (sql[j] === '\\') j += 2;
      else if (sql[j] === c && sql[j + 1] === c)
        j += 2; // a doubled quote stays inside
      else if (sql[j] === c) return j + 1;
      else j += 1;
    }
    return sql.length;
  }
  if ((c === '-' && sql[i + 1] === '-') || c === '#') {
    const end = sql.indexOf('\n', i);
    return end < 0 ? sql.length : end + 1;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const end = sql.indexOf('*/', i + 2);
    return end < 0 ? sql.length : end + 2;
  }
  return i;
}

/** A SQL literal ClickHouse parses back to exactly `value`, or `undefined` when unsure. */
export function sqlLiteral(value: unknown): string | undefined {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (const item of value) {
      const literal = sqlLiteral(item);
      if (literal === undefined) return undefined;
      items.push(literal);
    }
    return `[${items.join(', ')}]`;
  }
  return undefined; // Date, Map, object, undefined, symbol, function: left to chdb's binding
}

/** `'…'` with backslash, quote and NUL escaped: the parser reads back the very string. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0')}'`;
}
