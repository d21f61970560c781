import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { FINANCE_SCOPE_DATABASE } from './finance-sql.js';

export const MIGRATIONS_DIR = fileURLToPath(
  new URL('../../../infra/clickhouse/migrations/', import.meta.url),
);

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  statements: string[];
}

/** `NNNN_name.sql` files, in version order; statements end with `;` at the end of a line. */
export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8');
      return {
        version: Number(file.slice(0, 4)),
        name: file.slice(5, -4),
        checksum: createHash('sha256').update(sql).digest('hex'),
        statements: splitStatements(sql),
      };
    });
}

export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) =>
      s
        .split('\n')
        .filter((line) => !line.trim().startsWith('--'))
        .join('\n')
        .trim(),
    )
    .filter(Boolean);
}

/** A migrator's hold on the lock lapses this long after its last renewal (a crashed one). */
export const MIGRATION_LOCK_TTL_MS = 120_000;
/** The holder renews its hold this often while it migrates. */
const LOCK_RENEW_MS = 20_000;
/**
 * A claim is read back this long after it was stored, so that two migrators that claimed at the
 * same moment (one with the earlier server clock committed a little later) agree on the winner.
 */
const LOCK_SETTLE_MS = 500;

/**
 * Applies each migration once and records it in `billing.schema_migrations`, holding the
 * migration lock (`billing.migration_lock`): two `nanobill migrate` runs (or a migrate and a
 * `nanobill run` on the same server) take turns, and the second finds nothing left to apply, so
 * the backfills (guarded by "table is empty", which two at once would both pass) run once.
 * An applied migration whose file has changed is an error: migrations are append-only.
 */
export async function migrate(
  client: ClickHouseClient,
  migrations = readMigrations(),
): Promise<Migration[]> {
  await client.command({ query: 'CREATE DATABASE IF NOT EXISTS billing' });
  // Finance SQL's current database, empty for good (see FINANCE_SCOPE_DATABASE).
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${FINANCE_SCOPE_DATABASE}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS billing.schema_migrations (
      version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = MergeTree ORDER BY version`,
  });
  return withMigrationLock(client, async () => {
    const pending = await pendingMigrations(client, migrations);
    for (const m of pending) {
      for (const query of m.statements) await client.command({ query });
      await client.insert({
        table: 'billing.schema_migrations',
        values: [{ version: m.version, name: m.name, checksum: m.checksum }],
        format: 'JSONEachRow',
      });
    }
    return pending;
  });
}

/**
 * Runs `work` while this process holds the migration lock, a ClickHouse table that works the same
 * on embedded chdb and on a server (no Keeper needed): each migrator inserts a claim, and the
 * holder is the earliest claim (server clock, then the random holder id) not released and not
 * lapsed (`MIGRATION_LOCK_TTL_MS` after its last renewal: a crashed migrator does not block the
 * next one for ever). The others wait their turn, renewing their own claims.
 */
export async function withMigrationLock<T>(
  client: ClickHouseClient,
  work: () => Promise<T>,
  options: { pollMs?: number } = {},
): Promise<T> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS billing.migration_lock (
      holder     String,
      claimed_at DateTime64(6, 'UTC') DEFAULT now64(6),
      expires_at DateTime64(3, 'UTC'),
      released   UInt8 DEFAULT 0
    ) ENGINE = MergeTree ORDER BY (claimed_at, holder) TTL toDateTime(claimed_at) + INTERVAL 7 DAY`,
  });
  const holder = randomUUID();
  // Expiry on the server's clock, the one the holder query compares it with: a migrator whose
  // clock is off would otherwise see every claim lapsed (and wait for ever) or hold too long.
  const claim = (released: 0 | 1) =>
    client.command({
      query: `INSERT INTO billing.migration_lock (holder, expires_at, released)
              SELECT {holder:String}, now64(3) + toIntervalMillisecond({ttlMs:Int64}),
                     {released:UInt8}`,
      query_params: { holder, ttlMs: MIGRATION_LOCK_TTL_MS, released },
    });
  await claim(0);
  let renewing = Promise.resolve();
  const renewal = setInterval(() => {
    renewing = renewing
      .then(() => claim(0))
      .then(
        () => undefined,
        () => undefined,
      );
  }, LOCK_RENEW_MS);
  try {
    await sleep(LOCK_SETTLE_MS);
    while ((await lockHolder(client)) !== holder) await sleep(options.pollMs ?? 1000);
    return await work();
  } finally {
    clearInterval(renewal);
    await renewing;
    await claim(1);
  }
}

async function lockHolder(client: ClickHouseClient): Promise<string | undefined> {
  const result = await client.query({
    query: `SELECT holder FROM billing.migration_lock
            GROUP BY holder
            HAVING max(released) = 0 AND max(expires_at) > now64(3)
            ORDER BY min(claimed_at), holder
            LIMIT 1`,
    format: 'JSONCompactEachRow',
  });
  return (await result.json<[string]>())[0]?.[0];
}

function migrationFile(m: Migration): string {
  return `${String(m.version).padStart(4, '0')}_${m.name}`;
}

/** Migrations not applied yet; throws when an applied one has changed since. */
export async function pendingMigrations(
  client: ClickHouseClient,
  migrations = readMigrations(),
): Promise<Migration[]> {
  const exists = await client.query({
    query:
      "SELECT count() AS n FROM system.tables WHERE database = 'billing' AND name = 'schema_migrations'",
    format: 'JSONEachRow',
  });
  if (Number((await exists.json<{ n: string }>())[0]?.n) === 0) return migrations;
  const result = await client.query({
    query: 'SELECT DISTINCT version, checksum FROM billing.schema_migrations',
    format: 'JSONEachRow',
  });
  const applied = new Map(
    (await result.json<{ version: number; checksum: string }>()).map((r) => [
      r.version,
      r.checksum,
    ]),
  );
  const pending: Migration[] = [];
  for (const m of migrations) {
    const checksum = applied.get(m.version);
    if (checksum === undefined) pending.push(m);
    else if (checksum !== m.checksum) {
      throw new Error(`migration ${migrationFile(m)} was changed after it was applied`);
    }
  }
  return pending;
}

/**
 * Waits until another process (`nanobill migrate`) has applied every migration, so a service
 * started beside it never writes to a schema older than its code.
 */
export async function waitForMigrations(
  client: ClickHouseClient,
  options: { timeoutMs: number; intervalMs?: number; onWait?: (pending: Migration[]) => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const migrations = readMigrations();
  for (;;) {
    const pending = await pendingMigrations(client, migrations);
    if (pending.length === 0) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `schema not migrated: ${pending.map(migrationFile).join(', ')} pending (run nanobill migrate)`,
      );
    }
    options.onWait?.(pending);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
  }
}
