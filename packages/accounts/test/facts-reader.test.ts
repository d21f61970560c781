import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { AccountSnapshot, OrgSettings } from '@nanobill/contract';
import { AccountHistory } from '@nanobill/attribution';
import { ORG_SEAT_GRANT } from '@nanobill/credits';
import { describe, expect, it } from 'vitest';
import { AccountFactsReader, accountMonth, settingsRow, snapshotRow } from '../src/index.js';

// AccountFactsReader over a fake ClickHouse that holds the two tables' rows in memory and answers
// its queries by table and `since`: what a refresh reads, returns and skips; no ClickHouse.
interface Stored {
  json: string;
  source?: string;
  stored_ms: number;
}

function fakeTables() {
  const tables = { snapshots: [] as Stored[], settings: [] as Stored[] };
  const sinces: number[] = [];
  /** Rows each query answered with. */
  const answered: number[] = [];
  /** ClickHouse's clock: what `now64()` answers. */
  const clock = { now: 0 };
  const client = {
    query: async (params: { query: string; query_params: { since: number } }) => {
      const table = /account_snapshots/.test(params.query) ? tables.snapshots : tables.settings;
      sinces.push(params.query_params.since);
      const rows = table
        .filter((r) => r.stored_ms >= params.query_params.since)
        .map((r) => ({ json: r.json, source: r.source, read_ms: String(clock.now) }));
      answered.push(rows.length);
      return { json: async () => rows };
    },
  };
  return { clickhouse: client as unknown as ClickHouseClient, tables, sinces, answered, clock };
}

const org = (effectiveAt: string, seats: number, accountId = 'acme'): AccountSnapshot => ({
  schemaVersion: 1,
  accountId,
  kind: 'org',
  plan: 'team',
  effectiveAt,
  seats,
  members: ['alice'],
});
const limit = (effectiveAt: string, nanoUsd: string): OrgSettings => ({
  schemaVersion: 1,
  source: 'admin',
  accountId: 'acme',
  effectiveAt,
  spendingLimitNanoUsd: nanoUsd,
});
const stored = (value: unknown, storedMs: number, source = 'hub'): Stored => ({
  json: JSON.stringify(value),
  source,
  stored_ms: storedMs,
});

describe('AccountFactsReader', () => {
  it('reads snapshots and settings into the history and returns the accounts that changed', async () => {
    const fake = fakeTables();
    fake.tables.snapshots.push(stored(org('2026-11-01T00:00:00Z', 2), 1_000));
    fake.tables.snapshots.push(stored(org('2026-11-01T00:00:00Z', 1, 'globex'), 1_000));
    fake.tables.settings.push(stored(limit('2026-11-02T00:00:00Z', '5000000000'), 1_500));
    const reader = new AccountFactsReader(fake.clickhouse, new AccountHistory());
    expect((await reader.refresh()).sort()).toEqual(['acme', 'globex']);
    const acme = reader.history.at('acme', Date.parse('2026-11-03T00:00:00Z'));
    expect(acme).toMatchObject({ seats: 2, spendingLimitNanoUsd: '5000000000' });
    expect(reader.skipped).toBe(0);
  });

  it('reads only what was stored since the last read, with a minute of overlap', async () => {
    const fake = fakeTables();
    fake.tables.snapshots.push(stored(org('2026-11-01T00:00:00Z', 2), 100_000));
    const reader = new AccountFactsReader(fake.clickhouse, new AccountHistory());
    fake.clock.now = 110_000;
    await reader.refresh();
    // The row read again in the overlap changes nothing; a new one is read.
    fake.tables.snapshots.push(stored(org('2026-11-10T00:00:00Z', 5), 130_000));
    fake.clock.now = 140_000;
    expect(await reader.refresh()).toEqual(['acme']);
    fake.clock.now = 150_000;
    expect(await reader.refresh()).toEqual([]);
    // snapshots then settings, per refresh: from 0, then from the last read that found rows
    // minus 60 s (settings: none found yet, from 0).
    expect(fake.sinces).toEqual([0, 0, 50_000, 0, 80_000, 0]);
    expect(reader.history.history('acme').map((s) => (s as { seats: number }).seats)).toEqual([
      2, 5,
    ]);
  });

  it('reads a quiet table again only within the minute after its last read', async () => {
    const fake = fakeTables();
    for (let i = 0; i < 3; i++) {
      fake.tables.snapshots.push(stored(org('2026-11-01T00:00:00Z', 1, `org-${i}`), 100_000));
    }
    const reader = new AccountFactsReader(fake.clickhouse, new AccountHistory());
    for (const now of [100_500, 130_000, 200_000, 300_000, 400_000]) {
      fake.clock.now = now;
      await reader.refresh();
    }
    // Snapshot reads (every other query): all three rows at first, again in the minute after
    // (the read at 130 s moves the mark), then nothing however long the table stays quiet.
    expect(fake.answered.filter((_, i) => i % 2 === 0)).toEqual([3, 3, 3, 0, 0]);
    expect(fake.sinces.filter((_, i) => i % 2 === 0)).toEqual([
      0, 40_500, 70_000, 140_000, 140_000,
    ]);
    expect(reader.history.has('org-2')).toBe(true);
  });

  it('skips a stored message the decoder refuses, says why, and reads the rest', async () => {
    const fake = fakeTables();
    const reasons: string[] = [];
    fake.tables.snapshots.push(stored({ ...org('2026-11-01T00:00:00Z', 2), seats: -1 }, 1_000));
    fake.tables.snapshots.push(stored(org('2026-11-01T00:00:00Z', 1, 'globex'), 1_000));
    fake.tables.settings.push(stored({ ...limit('2026-11-02T00:00:00Z', '1'), plan: 'x' }, 1_000));
    const reader = new AccountFactsReader(fake.clickhouse, new AccountHistory(), (reason) =>
      reasons.push(reason),
    );
    expect(await reader.refresh()).toEqual(['globex']);
    expect(reader.skipped).toBe(2);
    expect(reasons).toHaveLength(2);
    expect(reader.history.has('acme')).toBe(false);
  });

  it('sets aside a snapshot that changes its account’s kind and reports it', async () => {
    const fake = fakeTables();
    const reasons: string[] = [];
    fake.tables.snapshots.push(stored(org('2026-11-01T00:00:00Z', 2), 1_000));
    const user: AccountSnapshot = {
      schemaVersion: 1,
      accountId: 'acme',
      kind: 'user',
      plan: 'pro',
      effectiveAt: '2026-11-05T00:00:00Z',
    };
    fake.tables.snapshots.push(stored(user, 1_000, 'legacy'));
    const reader = new AccountFactsReader(fake.clickhouse, new AccountHistory(), (reason) =>
      reasons.push(reason),
    );
    await reader.refresh();
    expect(reasons).toEqual([
      "account 'acme': the user snapshot effective 2026-11-05T00:00:00Z is ignored, the account is an org",
    ]);
    expect(reader.skipped).toBe(1);
    expect(reader.history.at('acme', Date.parse('2026-11-06T00:00:00Z'))?.kind).toBe('org');
  });

  it('feeds accountMonth: the month’s grant is the largest seat count held in it', async () => {
    const fake = fakeTables();
    fake.tables.snapshots.push(stored(org('2026-11-01T00:00:00Z', 4), 1_000));
    fake.tables.snapshots.push(stored(org('2026-11-20T00:00:00Z', 1), 1_000));
    const reader = new AccountFactsReader(fake.clickhouse, new AccountHistory());
    await reader.refresh();
    const late = accountMonth(
      reader.history,
      'acme',
      '2026-11',
      Date.parse('2026-11-25T00:00:00Z'),
    );
    expect(late.facts).toEqual({ kind: 'org', plan: 'team', seats: 1 });
    expect(late.grant).toBe(4n * ORG_SEAT_GRANT); // a downgrade takes effect next month
    const december = accountMonth(
      reader.history,
      'acme',
      '2026-12',
      Date.parse('2026-12-02T00:00:00Z'),
    );
    expect(december.grant).toBe(ORG_SEAT_GRANT);
  });
});

describe('rows stored for the reader', () => {
  it('snapshotRow: a hub row whose json the reader decodes back to the same snapshot', () => {
    const snapshot = org('2026-11-01T00:00:00Z', 2);
    const row = snapshotRow(snapshot);
    expect(row).toMatchObject({ account_id: 'acme', kind: 'org', seats: 2, source: 'hub' });
    expect(JSON.parse(row.snapshot)).toEqual(snapshot);
  });

  it('settingsRow: names the fields the message sets', () => {
    const row = settingsRow(limit('2026-11-02T00:00:00Z', '5000000000'));
    expect(row).toMatchObject({
      account_id: 'acme',
      fields: ['spendingLimitNanoUsd'],
      spending_limit_nano_usd: '5000000000',
      disabled_providers: [],
      alert_webhook_url: null,
    });
  });
});
