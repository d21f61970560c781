import { loadConfig } from '@nanobill/config';
import { migrate as applyMigrations, openClickHouse } from '@nanobill/clickhouse';

/**
 * `nanobill migrate`: the one process that changes a shared ClickHouse schema. Services started
 * with `--only` against `CLICKHOUSE_URL` wait for it instead of migrating themselves.
 */
export async function migrate(): Promise<number> {
  const config = loadConfig();
  const client = openClickHouse({ url: config.clickhouseUrl, dataDir: config.dataDir });
  try {
    const applied = await applyMigrations(client);
    console.log(
      applied.length === 0
        ? 'schema up to date'
        : `applied ${applied.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`).join(', ')}`,
    );
    return 0;
  } finally {
    await client.close();
  }
}
