import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '@nanobill/testkit';
import { openClickHouse } from '../src/client.js';

// The same parameterized queries on embedded chdb, with the parameters inlined (the default) and
// bound by chdb: the answers must be the very same values.
const dataDir = tempDir();
const inline = openClickHouse({ dataDir });
const bound = openClickHouse({ dataDir, parameters: 'bound' });
afterAll(async () => {
  await inline.close();
  await bound.close();
});

async function rows(
  client: typeof inline,
  query: string,
  query_params: Record<string, unknown>,
): Promise<unknown[]> {
  const result = await client.query({ query, query_params, format: 'JSONCompactEachRow' });
  return result.json();
}

const HOSTILE_STRINGS = [
  '',
  "it's",
  'back\\slash',
  "\\'); SELECT 1; --",
  'tab\tnew\nline\rreturn',
  'nul\0byte',
  '{a:String}',
  'ünïcødé ✓ 😀',
  '%s $1 ? :a',
];

describe('inlined parameters on embedded chdb', () => {
  it('answers exactly what chdb binding answers, for each type the services use', async () => {
    const query = `SELECT {s:String}, {i:Int64}, {u:UInt32}, {b:UInt8}, {n:Nullable(UInt32)},
      {t:DateTime64(3, 'UTC')}, {ids:Array(String)}, {us:Array(UInt32)}, {is:Array(Int64)},
      {hs:Array(DateTime('UTC'))}`;
    for (const s of HOSTILE_STRINGS) {
      const params = {
        s,
        i: -(2n ** 63n),
        u: 4_294_967_295,
        b: 1,
        n: null,
        t: '2026-11-26 12:34:56.789',
        ids: HOSTILE_STRINGS,
        us: [0, 7],
        is: [9_223_372_036_854_775_807n],
        hs: ['2026-11-26 12:00:00'],
      };
      const [inlined, chdb] = [await rows(inline, query, params), await rows(bound, query, params)];
      expect(inlined).toEqual(chdb);
      expect((inlined[0] as unknown[])[0]).toBe(s);
    }
  });

  it('runs a look-up of 20,000 ids, past the default max_query_size', async () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `bench-${i}-0123456789abcdef`);
    const [[count]] = (await rows(
      inline,
      'SELECT count() FROM (SELECT arrayJoin({ids:Array(String)}) AS id) WHERE id LIKE {p:String}',
      { ids, p: 'bench-1%' },
    )) as [[string]];
    expect(Number(count)).toBe(ids.filter((id) => id.startsWith('bench-1')).length);
  });

  it('gives each of many concurrent queries on several connections its own values', async () => {
    const clients = [inline, openClickHouse({ dataDir }), openClickHouse({ dataDir })];
    const answers = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const client = clients[i % clients.length]!;
        const [[value]] = (await rows(client, 'SELECT {v:String}', { v: `value-${i}` })) as [
          [string],
        ];
        return value;
      }),
    );
    expect(answers).toEqual(Array.from({ length: 60 }, (_, i) => `value-${i}`));
    await Promise.all(clients.slice(1).map((c) => c.close()));
  });
});
