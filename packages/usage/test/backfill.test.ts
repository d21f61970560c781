import { afterAll, describe, expect, it } from 'vitest';
import {
  migrate,
  openClickHouse,
  readMigrations,
  type ClickHouseClient,
} from '@nanobill/clickhouse';
import { queryValue, tempDir } from '@nanobill/testkit';
import { usageSeries } from '../src/index.js';
import { entry, insertLedger } from './support.js';

// Its own file: chdb binds one data directory per process, and this one starts before 0006.
describe('migration 0006 on a ledger priced before it', () => {
  let clickhouse: ClickHouseClient;
  const rollupVersion = 6;
  const at = Date.parse('2026-11-10T08:15:00.000Z');
  const row = (i: number, cost: string, account = 'org-a') =>
    entry(i, {
      billed_account: account,
      user_id: `u${i % 3}`,
      provider: 'groq',
      model: 'm',
      task: 'conversational',
      cost_nano_usd: cost,
      at: at + i * 60_000,
    });
  // Rows of a ledger without token columns: what billing.ledger_entries held before 0006.
  const legacy = (i: number, cost: string) => {
    const { input_tokens: _input, output_tokens: _output, ...rest } = row(i, cost);
    return rest;
  };
  const total = async () =>
    (
      await usageSeries(clickhouse, {
        account: 'org-a',
        from: new Date('2026-11-01T00:00:00.000Z'),
        to: new Date('2026-12-01T00:00:00.000Z'),
        granularity: 'month',
        groupBy: 'member',
      })
    ).totals;
  const ledgerTotal = () =>
    queryValue(
      clickhouse,
      "SELECT (count(), toString(sum(toInt128(cost_nano_usd)))) FROM billing.ledger WHERE billed_account = 'org-a'",
    );

  afterAll(async () => {
    await clickhouse?.close();
  });

  it('backfills the existing ledger once, then follows new ledger rows', async () => {
    clickhouse = openClickHouse({ dataDir: tempDir() });
    await migrate(
      clickhouse,
      readMigrations().filter((m) => m.version < rollupVersion),
    );
    const before = Array.from({ length: 50 }, (_, i) => legacy(i, String(1_000 + i)));
    await clickhouse.insert({
      table: 'billing.ledger_entries',
      values: before,
      format: 'JSONEachRow',
    });
    // A row written twice by a race: the ledger counts it once, and so must the backfill.
    await clickhouse.insert({
      table: 'billing.ledger_entries',
      values: [before[0]!],
      format: 'JSONEachRow',
    });

    const applied = await migrate(clickhouse);
    expect(applied.map((m) => m.version)).toContain(rollupVersion);
    expect(await ledgerTotal()).toEqual(['50', String(50 * 1_000 + (49 * 50) / 2)]);
    expect(await total()).toEqual({
      requests: 50,
      inputTokens: 0,
      outputTokens: 0,
      costNanoUsd: String(50 * 1_000 + (49 * 50) / 2),
    });

    // The backfill statement run again (a crash before 0006 was recorded) adds nothing.
    const backfill = readMigrations()
      .find((m) => m.version === rollupVersion)!
      .statements.find((s) => s.startsWith('INSERT INTO billing.usage_hourly'))!;
    await clickhouse.command({ query: backfill });
    expect((await total()).requests).toBe(50);

    await insertLedger(clickhouse, [
      { ...row(100, '7'), input_tokens: 30, output_tokens: 4 },
      row(101, '5', 'org-b'),
    ]);
    expect(await total()).toEqual({
      requests: 51,
      inputTokens: 30,
      outputTokens: 4,
      costNanoUsd: String(50 * 1_000 + (49 * 50) / 2 + 7),
    });
    expect(await ledgerTotal()).toEqual(['51', (await total()).costNanoUsd]);
  });
});
