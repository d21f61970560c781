import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  migrate,
  openClickHouse,
  pendingMigrations,
  readMigrations,
  splitStatements,
  waitForMigrations,
} from '../src/index.js';

describe('splitStatements', () => {
  it('splits on semicolons that end a line and drops comment lines', () => {
    expect(
      splitStatements(
        "-- a comment\nCREATE TABLE a (x String DEFAULT ';');\n\nSELECT 1;\n-- trailing\n",
      ),
    ).toEqual(["CREATE TABLE a (x String DEFAULT ';')", 'SELECT 1']);
  });
});

describe('migrate (embedded ClickHouse)', () => {
  const client = openClickHouse({ dataDir: mkdtempSync(join(tmpdir(), 'nanobill-migrate-')) });
  afterAll(() => client.close());

  it('before migrating: every migration is pending and a waiting service gives up naming them', async () => {
    const all = readMigrations();
    expect((await pendingMigrations(client)).map((m) => m.version)).toEqual(
      all.map((m) => m.version),
    );
    const waits: number[] = [];
    await expect(
      waitForMigrations(client, {
        timeoutMs: 50,
        intervalMs: 10,
        onWait: (p) => waits.push(p.length),
      }),
    ).rejects.toThrow(/0001_usage.*pending \(run nanobill migrate\)/);
    expect(waits[0]).toBe(all.length);
  });

  it('a waiting service starts once another process has migrated', async () => {
    const waiting = waitForMigrations(client, { timeoutMs: 30_000, intervalMs: 20 });
    await migrate(client);
    await expect(waiting).resolves.toBeUndefined();
    expect(await pendingMigrations(client)).toEqual([]);
  });

  it('applies every migration once and records it', async () => {
    const all = readMigrations();
    expect(await migrate(client)).toEqual([]);
    const recorded = await client.query({
      query:
        'SELECT version, count() AS n FROM billing.schema_migrations GROUP BY version ORDER BY version',
      format: 'JSONEachRow',
    });
    expect(await recorded.json()).toEqual(all.map((m) => ({ version: m.version, n: '1' })));
    const tables = await client.query({
      query: "SELECT name FROM system.tables WHERE database = 'billing'",
      format: 'JSONEachRow',
    });
    expect((await tables.json<{ name: string }>()).map((t) => t.name)).toContain('usage');
  });

  it('refuses a migration whose file changed after it was applied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanobill-migrations-'));
    writeFileSync(
      join(dir, '0001_first.sql'),
      'CREATE TABLE IF NOT EXISTS billing.t1 (x UInt8) ENGINE = Memory;\n',
    );
    const [first] = readMigrations(dir);
    await expect(migrate(client, [{ ...first!, version: 900 }])).resolves.toHaveLength(1);
    await expect(
      migrate(client, [{ ...first!, version: 900, checksum: 'changed' }]),
    ).rejects.toThrow(/0900_first was changed/);
  });
});
