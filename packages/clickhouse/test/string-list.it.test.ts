import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testClickHouse } from '@nanobill/testkit';
import { queryWithList, stringLiteral, type ClickHouseClient } from '../src/index.js';

/** Values that would end or bend a badly escaped literal, or look like SQL or a placeholder. */
const HOSTILE = [
  "'",
  "''",
  "\\'",
  '\\',
  '\\\\',
  "'); DROP TABLE billing.usage; --",
  '"]), (SELECT 1',
  '{ids:String}',
  'tab\there',
  'new\nline',
  'nul\u0000char',
  '\\u0041 stays six characters',
  'line separator \u2028 and emoji 🧾',
  'é'.repeat(256),
  '',
];

describe('queryWithList: a long list of strings inline in a query', () => {
  let clickhouse: ClickHouseClient;
  beforeAll(async () => {
    clickhouse = (await testClickHouse()).client;
  });
  afterAll(async () => {
    await clickhouse.close();
  });

  it('refuses a lone surrogate, which would turn the whole list into [] in ClickHouse', () => {
    expect(() => queryWithList(['normal-1', 'x\uD800y'], (list) => `SELECT ${list}`)).toThrow(
      /value 1 is not well-formed/,
    );
  });

  async function roundTrip(values: readonly string[]): Promise<string[]> {
    const result = await clickhouse.query({
      ...queryWithList(values, (list) => `SELECT arrayJoin(${list})`),
      format: 'JSONCompactEachRow',
    });
    return (await result.json<[string]>()).map(([value]) => value);
  }

  it('brings back exactly the strings it was given, hostile ones included', async () => {
    expect(await roundTrip(HOSTILE)).toEqual(HOSTILE);
  });

  it('round-trips any well-formed strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'binary' }), { maxLength: 50 }),
        async (values) => {
          expect(await roundTrip(values)).toEqual(values);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('carries a list far beyond the default max_query_size (256 KiB) in one query', async () => {
    const values = Array.from({ length: 50_000 }, (_, i) => `request-${i}-${'x'.repeat(100)}`);
    const result = await clickhouse.query({
      ...queryWithList(values, (list) => `SELECT length(${list}), ${list}[50000]`),
      format: 'JSONCompactEachRow',
    });
    expect(await result.json()).toEqual([['50000', values[49_999]]]);
  });
});

describe('stringLiteral', () => {
  it('escapes backslashes and quotes, and nothing else', () => {
    expect(stringLiteral(`a'b\\c"d\n`)).toBe(`'a\\'b\\\\c"d\n'`);
  });
});
