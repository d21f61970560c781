import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseError } from '@clickhouse/client';
import {
  BatchWriter,
  migrate,
  openClickHouse,
  pendingMigrations,
  type ClickHouseClient,
} from '@nanobill/clickhouse';
import { createLogger } from '@nanobill/observability';
import { parseRequest, startChdbServer, type ChdbServer } from '../src/index.js';

describe('parseRequest (ClickHouse HTTP rules)', () => {
  it('joins the query parameter and the body, splits settings from bindings', () => {
    const s = parseRequest({
      method: 'POST',
      url: '/?query=SELECT%20%7Bids%3AArray(String)%7D&query_id=q1&database=billing&readonly=1&max_result_rows=5&param_ids=%5B%27a%27%5D&wait_end_of_query=1',
      body: Buffer.from(' AS x'),
    });
    expect(s).toEqual({
      sql: 'SELECT {ids:Array(String)}\n AS x',
      data: undefined,
      format: 'TabSeparated',
      settings: [
        ['max_result_rows', '5'],
        ['readonly', '1'],
      ],
      database: 'billing',
      params: { ids: "['a']" },
      readOnly: false,
    });
  });

  it('hands an insert its body as data, apart from the SQL', () => {
    const s = parseRequest({
      method: 'POST',
      url: '/?query=INSERT%20INTO%20t%20FORMAT%20JSONEachRow',
      body: Buffer.from('{"x":1}\n'),
    });
    expect(s).toMatchObject({
      sql: 'INSERT INTO t FORMAT JSONEachRow',
      data: Buffer.from('{"x":1}\n'),
    });
  });

  it('runs a GET read-only, after every other setting, whatever it asks', () => {
    const settingsOf = (url: string) =>
      parseRequest({ method: 'GET', url, body: undefined }).settings;
    expect(settingsOf('/?query=SELECT%201')).toEqual([['readonly', '1']]);
    expect(settingsOf('/?query=SELECT%201&readonly=0&max_threads=1')).toEqual([
      ['max_threads', '1'],
      ['readonly', '1'],
    ]);
    expect(settingsOf('/?query=SELECT%201&readonly=2')).toEqual([['readonly', '1']]);
  });

  it('refuses what it does not implement, by name', () => {
    expect(() => parseRequest({ method: 'POST', url: '/', body: undefined })).toThrow(
      'empty query',
    );
    expect(() =>
      parseRequest({ method: 'POST', url: '/?query=SELECT%201&session_id=s', body: undefined }),
    ).toThrow('sessions are not supported');
  });
});

const PASSWORD = 'server-test-password-0123456789';

function withCredentials(url: string): string {
  const u = new URL(url);
  u.username = 'default';
  u.password = PASSWORD;
  return u.href;
}

describe('chdb server through @clickhouse/client', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'nanobill-chdb-server-'));
  let server: ChdbServer;
  let client: ClickHouseClient;

  beforeAll(async () => {
    server = await startChdbServer({
      dataDir,
      port: 0,
      password: PASSWORD,
      logger: createLogger({ level: 'silent' }),
    });
    client = openClickHouse({ url: withCredentials(server.url), dataDir });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('answers ping and applies every migration', async () => {
    expect(await client.ping()).toEqual({ success: true });
    await migrate(client);
    expect(await pendingMigrations(client)).toEqual([]);
  });

  it('stores inserts and reads them back exactly, 64-bit money as strings', async () => {
    await client.command({
      query:
        'CREATE TABLE IF NOT EXISTS default.money (id String, nano Int64) ENGINE = MergeTree ORDER BY id',
    });
    const writer = new BatchWriter<{ id: string; nano: string }>({
      clickhouse: client,
      table: 'default.money',
      columns: ['id', 'nano'],
      maxRows: 1000,
      maxWaitMs: 10,
    });
    const rows = Array.from({ length: 2500 }, (_, i) => ({
      id: `r-${i}`,
      // above 2^53 in the sum, below Int64's limit
      nano: String(3_500_000_000_000_003n + BigInt(i)),
    }));
    await Promise.all([writer.write(rows.slice(0, 1200)), writer.write(rows.slice(1200))]);
    const result = await client.query({
      query: 'SELECT count() AS n, sum(nano) AS total, max(nano) AS top FROM default.money',
      format: 'JSONEachRow',
    });
    const expected = rows.reduce((sum, r) => sum + BigInt(r.nano), 0n);
    expect(await result.json()).toEqual([
      { n: '2500', total: String(expected), top: rows.at(-1)!.nano },
    ]);
  });

  it('binds parameters as a server does, hostile strings and arrays included', async () => {
    const hostile = "it's \\ a\ttab\nline'); DROP TABLE default.money; --";
    await client.insert({
      table: 'default.money',
      values: [{ id: hostile, nano: '-1' }],
      format: 'JSONEachRow',
    });
    const one = await client.query({
      query: 'SELECT nano FROM default.money WHERE id = {id:String}',
      query_params: { id: hostile },
      format: 'JSONEachRow',
    });
    expect(await one.json()).toEqual([{ nano: '-1' }]);
    const many = await client.query({
      query:
        'SELECT id FROM default.money WHERE id IN (SELECT arrayJoin({ids:Array(String)})) ORDER BY id',
      query_params: { ids: [hostile, 'r-7', 'nope'] },
      format: 'JSONEachRow',
    });
    expect(await many.json()).toEqual([{ id: hostile }, { id: 'r-7' }]);
  });

  it('keeps settings to the request that sent them: a read-only query does not make the next write fail', async () => {
    await expect(
      client.query({
        query: 'SELECT id FROM default.money',
        format: 'JSONEachRow',
        clickhouse_settings: {
          max_result_rows: '10',
          result_overflow_mode: 'throw',
          readonly: '1',
        },
      }),
    ).rejects.toThrow(/limit|TOO_MANY_ROWS/i);
    await expect(
      client.command({
        query: 'INSERT INTO default.money VALUES (1, 2)',
        clickhouse_settings: { readonly: '1' },
      }),
    ).rejects.toThrow(/readonly/i);
    await client.command({ query: "INSERT INTO default.money VALUES ('after', 7)" });
    const after = await client.query({
      query: "SELECT nano FROM default.money WHERE id = 'after'",
      format: 'JSONEachRow',
    });
    expect(await after.json()).toEqual([{ nano: '7' }]);
  });

  it('reports engine errors the way a server does: code and type on a ClickHouseError', async () => {
    const error = await client
      .query({ query: 'SELECT * FROM billing.no_such_table', format: 'JSONEachRow' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClickHouseError);
    expect(error).toMatchObject({ code: '60', type: 'UNKNOWN_TABLE' });
  });

  it('takes bindings as long as a server does: 10,000 ids in one URL', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `r-${i}-0123456789abcdef0123456789`);
    ids[3] = 'r-3';
    const result = await client.query({
      query:
        'SELECT count() AS n FROM default.money WHERE id IN (SELECT arrayJoin({ids:Array(String)}))',
      query_params: { ids },
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([{ n: '1' }]);
  });

  it('serves concurrent clients, another process sees the same data', async () => {
    const other = openClickHouse({ url: withCredentials(server.url), dataDir });
    try {
      const counts = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const c = i % 2 === 0 ? client : other;
          const r = await c.query({
            query: 'SELECT count() AS n FROM default.money WHERE nano > {min:Int64}',
            query_params: { min: 0 },
            format: 'JSONEachRow',
          });
          return (await r.json<{ n: string }>())[0]!.n;
        }),
      );
      expect(new Set(counts)).toEqual(new Set(['2501']));
    } finally {
      await other.close();
    }
  });
});
