import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse, readMigrations, splitStatements } from '../src/index.js';

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

  it('applies every migration once and records it', async () => {
    const all = readMigrations();
    expect((await migrate(client)).map((m) => m.version)).toEqual(all.map((m) => m.version));
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
    ).rejects.toThrow(/900_first was changed/);
  });
});
