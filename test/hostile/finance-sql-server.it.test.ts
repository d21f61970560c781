import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FinanceSqlRefused,
  migrate,
  openClickHouse,
  openFinanceSql,
  type ClickHouseClient,
  type FinanceSql,
} from '@nanobill/clickhouse';
import { tempDir } from '@nanobill/testkit';
import { ClickHouseServer } from '../fixtures/chdb-server.js';

/**
 * Finance SQL over ClickHouse's HTTP interface (the chdb server standing in for a ClickHouse
 * server): the same check, in the empty scope database whatever database the URL names.
 */
describe('finance SQL on a ClickHouse server URL', () => {
  const server = new ClickHouseServer(tempDir('nanobill-finance-server-'));
  let admin: ClickHouseClient;
  let finance: FinanceSql;

  beforeAll(async () => {
    const url = await server.start();
    admin = openClickHouse({ url, dataDir: tempDir() });
    await migrate(admin);
    // A URL naming `billing` would make `api_tokens` mean billing.api_tokens: it is dropped.
    finance = openFinanceSql({ url: `${url}/billing`, dataDir: tempDir() });
  }, 120_000);

  afterAll(async () => {
    await finance?.close();
    await admin?.close();
    await server.stop('SIGTERM');
  });

  const rows = async (sql: string) => {
    const all: string[] = [];
    for await (const batch of await finance.rows(sql)) all.push(...batch);
    return all;
  };

  it('runs finance SQL', async () => {
    expect(await rows('SELECT count() AS n FROM billing.ledger')).toEqual(['{"n":"0"}']);
  });

  it('refuses the same attacks', async () => {
    await expect(rows("SELECT file('/etc/passwd')")).rejects.toThrow(FinanceSqlRefused);
    await expect(rows('SELECT * FROM billing.api_tokens')).rejects.toThrow(
      /table billing\.api_tokens is not allowed/,
    );
    await expect(rows('SELECT 1 SETTINGS readonly = 0')).rejects.toThrow(/SETTINGS/);
  });

  it('resolves unqualified names in the empty scope, not in the database of the URL', async () => {
    await expect(rows('SELECT * FROM api_tokens')).rejects.toThrow(/Unknown table/i);
  });
});
