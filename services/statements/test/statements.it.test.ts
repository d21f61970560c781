import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountFactsReader, snapshotRow } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { AccountSnapshot } from '@nanobill/contract';
import { ledgerEntry, testClickHouse } from '@nanobill/testkit';
import { finalizeIfDue, monthStatements } from '../src/index.js';

const USD = 1_000_000_000n;
const DAY = 24 * 60 * 60 * 1000;

// Real (embedded) ClickHouse; rows written directly, as the other services would.
describe('monthly statements', () => {
  let clickhouse: ClickHouseClient;
  const reader = () => new AccountFactsReader(clickhouse, new AccountHistory());
  const ledger = (account: string, nano: bigint, at: string, pricedAt = at, user = account) =>
    ledgerEntry({ account, nano, at, pricedAt, user });
  const snapshot = (s: Record<string, unknown>) =>
    snapshotRow(AccountSnapshot.parse({ schemaVersion: 1, ...s }));

  beforeAll(async () => {
    ({ client: clickhouse } = await testClickHouse());
    await clickhouse.insert({
      table: 'billing.account_snapshots',
      format: 'JSONEachRow',
      values: [
        snapshot({
          accountId: 'free-user',
          kind: 'user',
          plan: 'free',
          effectiveAt: '2026-01-01T00:00:00.000Z',
        }),
        snapshot({
          accountId: 'upgrader',
          kind: 'user',
          plan: 'free',
          effectiveAt: '2026-01-01T00:00:00.000Z',
        }),
        snapshot({
          accountId: 'upgrader',
          kind: 'user',
          plan: 'pro',
          effectiveAt: '2026-10-15T00:00:00.000Z',
        }),
        snapshot({
          accountId: 'member',
          kind: 'user',
          plan: 'free',
          effectiveAt: '2026-01-01T00:00:00.000Z',
        }),
        snapshot({
          accountId: 'acme',
          kind: 'org',
          plan: 'team',
          seats: 10,
          members: ['member'],
          effectiveAt: '2026-01-01T00:00:00.000Z',
        }),
        snapshot({
          accountId: 'acme',
          kind: 'org',
          plan: 'team',
          seats: 12,
          members: ['member'],
          effectiveAt: '2026-10-20T00:00:00.000Z',
        }),
      ],
    });
    await clickhouse.insert({
      table: 'billing.ledger_entries',
      format: 'JSONEachRow',
      values: [
        ledger('free-user', 70_000_000n, '2026-10-03T10:00:00.000Z'),
        ledger('free-user', 60_000_000n, '2026-10-04T10:00:00.000Z'), // $0.13 > the $0.10 grant
        ledger('upgrader', 3n * USD, '2026-10-10T10:00:00.000Z'),
        ledger('acme', 20n * USD, '2026-10-21T10:00:00.000Z', '2026-10-21T10:00:00.000Z', 'member'),
        ledger('acme', 7n * USD, '2026-10-22T10:00:00.000Z', '2026-10-22T10:00:00.000Z', 'member'),
        ledger('free-user', 5n * USD, '2026-09-30T23:59:59.999Z'), // September: not in October
      ],
    });
    await clickhouse.insert({
      table: 'billing.usage',
      format: 'JSONEachRow',
      values: ['member', 'member', 'upgrader'].map((user, i) => ({
        request_id: `ck-${i}`,
        event_time: '2026-10-05T00:00:00.000Z',
        user_id: user,
        bill_to: user === 'member' && i === 0 ? 'acme' : null,
        provider: 'groq',
        model: 'm',
        task: 'conversational',
        billing_mode: 'custom_key',
        status: 200,
        schema_version: 1,
        source_partition: 0,
        source_offset: i,
      })),
    });
  });

  afterAll(() => clickhouse?.close());

  it('drafts: credits from the largest grant of the month, payable and written off per plan', async () => {
    const history = reader();
    await history.refresh();
    const lines = await monthStatements(
      clickhouse,
      history.history,
      '2026-10',
      new Date('2026-10-25T00:00:00Z'),
    );
    const by = new Map(lines.map((l) => [l.account_id, l]));
    expect(lines.every((l) => l.status === 'draft')).toBe(true);
    // free user: $0.13 gross, $0.10 credits, no pay-as-you-go: $0.03 written off
    expect(by.get('free-user')).toMatchObject({
      gross: 130_000_000n,
      credits_granted: 100_000_000n,
      credits_applied: 100_000_000n,
      payable: 0n,
      written_off: 30_000_000n,
      plan: 'free',
    });
    // upgraded to PRO on the 15th: that month's grant is $2.00, $1.00 payable
    expect(by.get('upgrader')).toMatchObject({
      gross: 3n * USD,
      credits_granted: 2n * USD,
      payable: USD,
      written_off: 0n,
      plan: 'pro',
      custom_key_requests: 1,
    });
    // seats 10 → 12 mid-month: $24.00 of credits shared by the org
    expect(by.get('acme')).toMatchObject({
      gross: 27n * USD,
      credits_granted: 24n * USD,
      credits_applied: 24n * USD,
      payable: 3n * USD,
      account_kind: 'org',
      plan: 'team',
      custom_key_requests: 1,
    });
    // custom-key only: a line with nothing to pay
    expect(by.get('member')).toMatchObject({ gross: 0n, payable: 0n, custom_key_requests: 1 });
  });

  it('turns final after the deadline; a late cost lands in the next statement, never in the final one', async () => {
    const history = reader();
    await history.refresh();
    const deadlineMs = DAY;
    expect(
      await finalizeIfDue(clickhouse, history.history, '2026-10', {
        now: new Date('2026-11-01T12:00:00Z'),
        deadlineMs,
      }),
    ).toBe(false);
    const closing = new Date('2026-11-03T00:00:00Z');
    expect(
      await finalizeIfDue(clickhouse, history.history, '2026-10', { now: closing, deadlineMs }),
    ).toBe(true);
    const final = await monthStatements(clickhouse, history.history, '2026-10', closing);
    expect(final.length).toBeGreaterThan(0);
    expect(final.every((l) => l.status === 'final')).toBe(true);

    // An October request priced on November 10th, after October became final.
    await clickhouse.insert({
      table: 'billing.ledger_entries',
      format: 'JSONEachRow',
      values: [
        ledger('upgrader', USD / 2n, '2026-10-30T10:00:00.000Z', '2026-11-10T00:00:00.000Z'),
      ],
    });
    const october = await monthStatements(
      clickhouse,
      history.history,
      '2026-10',
      new Date('2026-11-20T00:00:00Z'),
    );
    expect(october).toEqual(final);
    const november = await monthStatements(
      clickhouse,
      history.history,
      '2026-11',
      new Date('2026-11-20T00:00:00Z'),
    );
    expect(november.find((l) => l.account_id === 'upgrader')).toMatchObject({
      gross: USD / 2n,
      adjustment: USD / 2n,
      credits_applied: USD / 2n,
      payable: 0n,
      status: 'draft',
    });
  });
});
