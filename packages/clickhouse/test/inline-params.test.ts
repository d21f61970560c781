import { describe, expect, it } from 'vitest';
import {
  inlineQueryParams,
  quoteString,
  sqlLiteral,
  withInlinedParams,
} from '../src/inline-params.js';

describe('inlineQueryParams', () => {
  it('writes each placeholder as a cast of its literal, as ClickHouse substitutes it', () => {
    expect(
      inlineQueryParams('SELECT {id:String}, {n: Int64 } WHERE x IN {ids:Array(String)}', {
        id: 'a',
        n: 12n,
        ids: ['x', 'y'],
      }),
    ).toBe(
      "SELECT _CAST('a', 'String'), _CAST(12, 'Int64') WHERE x IN _CAST(['x', 'y'], 'Array(String)')",
    );
  });

  it('quotes the type too (its own quotes escaped)', () => {
    expect(
      inlineQueryParams("SELECT {t:DateTime64(3, 'UTC')}", { t: '2026-11-26 12:00:00.000' }),
    ).toBe("SELECT _CAST('2026-11-26 12:00:00.000', 'DateTime64(3, \\'UTC\\')')");
  });

  it('leaves placeholders inside strings, quoted identifiers and comments alone', () => {
    const sql = `SELECT '{a:String}', "{a:String}", \`{a:String}\`, 'it''s {a:String}', 'x\\'{a:String}' -- {a:String}
      /* {a:String} */ # {a:String}
      , {a:String}`;
    const inlined = inlineQueryParams(sql, { a: 'v' })!;
    expect(inlined.match(/_CAST/g)).toHaveLength(1);
    expect(inlined.endsWith(", _CAST('v', 'String')")).toBe(true);
  });

  it('leaves a placeholder without a value for ClickHouse to refuse', () => {
    expect(inlineQueryParams('SELECT {a:String}, {b:String}', { a: 'v' })).toBe(
      "SELECT _CAST('v', 'String'), {b:String}",
    );
  });

  it('gives up on what it cannot write with certainty: the query keeps its parameters', () => {
    expect(inlineQueryParams('SELECT {d:DateTime}', { d: new Date() })).toBeUndefined();
    expect(inlineQueryParams('SELECT {o:Map(String, String)}', { o: { a: 'b' } })).toBeUndefined();
    expect(inlineQueryParams('SELECT {n:Float64}', { n: Number.NaN })).toBeUndefined();
    expect(inlineQueryParams('SELECT {u:String}', { u: undefined })).toBeUndefined();
    expect(
      inlineQueryParams('SELECT * FROM {t:Identifier}', { t: 'billing.usage' }),
    ).toBeUndefined();
    expect(inlineQueryParams('SELECT {a:Array(String)}', { a: ['x', new Date()] })).toBeUndefined();
  });
});

describe('sqlLiteral and quoteString', () => {
  it('escapes backslash, quote and NUL; nothing else can end the string', () => {
    expect(quoteString("a'b\\c\0d")).toBe("'a\\'b\\\\c\\0d'");
    expect(quoteString("\\'); DROP TABLE x; --")).toBe("'\\\\\\'); DROP TABLE x; --'");
  });

  it('writes numbers, bigints, booleans, null and nested arrays', () => {
    expect(sqlLiteral(-3)).toBe('-3');
    expect(sqlLiteral(1.5)).toBe('1.5');
    expect(sqlLiteral(2n ** 63n)).toBe('9223372036854775808');
    expect(sqlLiteral(true)).toBe('true');
    expect(sqlLiteral(null)).toBe('NULL');
    expect(sqlLiteral([[1, 2], []])).toBe('[[1, 2], []]');
  });
});

describe('withInlinedParams', () => {
  it('drops the parameters once inlined and keeps the settings', () => {
    const request = withInlinedParams({
      query: 'SELECT {a:UInt32}',
      query_params: { a: 1 },
      clickhouse_settings: { readonly: '1' },
    });
    expect(request).toEqual({
      query: "SELECT _CAST(1, 'UInt32')",
      query_params: undefined,
      clickhouse_settings: { readonly: '1' },
    });
  });

  it('raises max_query_size when the literals make the query longer than the default', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `request-${i}`);
    const request = withInlinedParams({
      query: 'SELECT {ids:Array(String)}',
      query_params: { ids },
    });
    expect(Number(request.clickhouse_settings?.max_query_size)).toBe(
      Buffer.byteLength(request.query) + 1,
    );
  });

  it('returns a request without parameters, or with one it cannot inline, as it was', () => {
    const plain = { query: 'SELECT 1' };
    expect(withInlinedParams(plain)).toBe(plain);
    const dated = { query: 'SELECT {d:DateTime}', query_params: { d: new Date(0) } };
    expect(withInlinedParams(dated)).toBe(dated);
  });
});
