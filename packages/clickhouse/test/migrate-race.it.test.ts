import { describe, expect, it, vi } from 'vitest';
import { migrate, openClickHouse, readMigrations, withMigrationLock } from '../src/index.js';
import { queryValue, tempDir } from '@nanobill/testkit';

describe('migrations', () => {
  it('two migrate runs racing on one database apply each migration once: one backfill of the rollups', async () => {
    const dataDir = tempDir();
    const setup = openClickHouse({ dataDir });
    // A database as it was before the rollups (0006, 0008), with priced requests in its ledger.
    await migrate(
      setup,
      readMigrations().filter((m) => m.version <= 5),
    );
    await setup.insert({
      table: 'billing.ledger_entries',
      format: 'JSONEachRow',
      values: Array.from({ length: 50 }, (_, i) => ({
        provider: 'groq',
        provider_request_id: `p-${i}`,
        request_id: `r-${i}`,
        event_time: '2026-10-01T10:00:00.000Z',
        priced_at: '2026-10-01T10:01:00.000Z',
        user_id: 'u',
        billed_account: 'acme',
        attribution: 'org',
        bill_to: 'acme',
        model: 'm',
        task: 'conversational',
        cost_nano_usd: '1000',
        cost_source: 'provider_api',
      })),
    });
    const first = openClickHouse({ dataDir });
    const second = openClickHouse({ dataDir });
    await Promise.all([migrate(first), migrate(second)]);
    const sum = (query: string) => queryValue(setup, query).then(String);
    expect(await sum('SELECT toString(sum(cost_nano_usd)) FROM billing.usage_hourly')).toBe(
      '50000',
    );
    expect(
      await sum(
        "SELECT toString(sum(cost_nano_usd)) FROM billing.usage_by_key_hourly WHERE dimension = 'task'",
      ),
    ).toBe('50000');
    expect(
      await sum(
        "SELECT toString(sum(cost_nano_usd)) FROM billing.usage_by_key_daily WHERE dimension = 'task'",
      ),
    ).toBe('50000');
    expect(await sum('SELECT toString(count()) FROM billing.schema_migrations')).toBe(
      String(readMigrations().length),
    );
    await Promise.all([setup.close(), first.close(), second.close()]);
  });

  it('takes the lock whatever the migrator clock says (expiry on the server clock)', async () => {
    const client = openClickHouse({ dataDir: tempDir() });
    await client.command({ query: 'CREATE DATABASE IF NOT EXISTS billing' });
    const behind = vi.spyOn(Date, 'now').mockReturnValue(Date.now() - 200_000);
    try {
      const ran = await Promise.race([
        withMigrationLock(client, async () => true, { pollMs: 100 }),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000)),
      ]);
      expect(ran, 'the work ran under the lock').toBe(true);
    } finally {
      behind.mockRestore();
      await client.close();
    }
  });

  it('0016 gives unpriced rows stored before it their unpriced_at, not a time that moves', async () => {
    const client = openClickHouse({ dataDir: tempDir() });
    await migrate(
      client,
      readMigrations().filter((m) => m.version < 16),
    );
    await client.insert({
      table: 'billing.unpriced_entries',
      format: 'JSONEachRow',
      values: [
        {
          provider: 'groq',
          provider_request_id: 'p-old',
          request_id: 'r-old',
          event_time: '2026-10-01T10:00:00.000Z',
          user_id: 'u',
          model: 'm',
          task: 'conversational',
          first_seen_at: '2026-10-01T10:00:01.000Z',
          unpriced_at: '2026-10-02T10:00:01.000Z',
          reason: 'no answer before the deadline',
        },
      ],
    });
    await migrate(client);
    const insertedAt = () =>
      queryValue(client, 'SELECT toString(inserted_at) FROM billing.unpriced_entries').then(String);
    expect(await insertedAt()).toBe('2026-10-02 10:00:01.000');
    await client.close();
  });
});
