import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { monthStatements } from '@nanobill/statements';
import { insertLedgerEntries, ledgerEntry, testClickHouse } from '@nanobill/testkit';

// Statements over unusual account histories, on real (embedded) ClickHouse: a user whose first
// snapshot is dated after the month is a free user in it (credits $0.10, not nothing), and an
// account whose stored history mixes user and org snapshots (stored before the accounts service
// refused kind changes) neither stops the month nor changes its kind.
describe('statements and account histories', () => {
  let clickhouse: ClickHouseClient;
  const row = (accountId: string, kind: string, plan: string, effectiveAt: string) => {
    const snapshot =
      kind === 'org'
        ? { schemaVersion: 1, accountId, kind, plan, effectiveAt, seats: 1, members: [accountId] }
        : { schemaVersion: 1, accountId, kind, plan, effectiveAt };
    return [accountId, kind, plan, effectiveAt, JSON.stringify(snapshot)];
  };

  beforeAll(async () => {
    ({ client: clickhouse } = await testClickHouse());
    await clickhouse.insert({
      table: 'billing.account_snapshots',
      columns: ['account_id', 'kind', 'plan', 'effective_at', 'snapshot'],
      format: 'JSONCompactEachRow',
      values: [
        row('future', 'user', 'pro', '2026-12-01T00:00:00.000Z'),
        row('flipped', 'user', 'free', '2026-01-01T00:00:00.000Z'),
        row('flipped', 'org', 'team', '2026-10-10T00:00:00.000Z'),
        row('steady', 'user', 'free', '2026-01-01T00:00:00.000Z'),
      ],
    });
    await insertLedgerEntries(clickhouse, [
      ledgerEntry({ account: 'future', nano: 50_000_000n, at: '2026-10-05T00:00:00.000Z' }),
      ledgerEntry({ account: 'flipped', nano: 30_000_000n, at: '2026-10-20T00:00:00.000Z' }),
      ledgerEntry({ account: 'steady', nano: 20_000_000n, at: '2026-10-20T00:00:00.000Z' }),
    ]);
  });

  afterAll(() => clickhouse?.close());

  it('a user before their first snapshot is free; a mixed history keeps the kind first seen', async () => {
    const reader = new AccountFactsReader(clickhouse, new AccountHistory());
    await reader.refresh();
    const lines = await monthStatements(
      clickhouse,
      reader.history,
      '2026-10',
      new Date('2026-10-25T00:00:00Z'),
    );
    const by = new Map(lines.map((l) => [l.account_id, l]));
    // $0.05 of usage, covered by the free $0.10: nothing written off.
    expect(by.get('future')).toMatchObject({
      account_kind: 'user',
      plan: 'free',
      credits_granted: 100_000_000n,
      credits_applied: 50_000_000n,
      written_off: 0n,
    });
    expect(by.get('flipped')).toMatchObject({
      account_kind: 'user',
      plan: 'free',
      credits_granted: 100_000_000n,
      credits_applied: 30_000_000n,
    });
    expect(by.get('steady')).toMatchObject({ credits_applied: 20_000_000n });
  });
});
