import { describe, expect, it } from 'vitest';
import { migrate, openClickHouse, readMigrations } from '../src/index.js';
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
});
