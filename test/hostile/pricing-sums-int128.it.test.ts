import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { AccountStatus, type AccountSnapshot } from '@nanobill/contract';
import { snapshotRow } from '@nanobill/accounts';
import { startEnforcement, type EnforcementService } from '@nanobill/enforcement-service';
import { INT64_MAX } from '@nanobill/money';
import { createMetricsRegistry } from '@nanobill/observability';
import { parseProviders } from '@nanobill/providers';
import { monthStatements, startStatements } from '@nanobill/statements';
import { monthToDateCost, usageSeries } from '@nanobill/usage';
import {
  collectTopic,
  insertLedgerEntries,
  ledgerEntry,
  queryValue,
  testBed,
  uniqueName,
  waitFor,
  type TestBed,
} from '@nanobill/testkit';

// Attack: costs as large as a cost can be (2^63-1 nano-USD each: the largest ceiling the providers
// file accepts, about $9.2 billion), summed. ClickHouse adds Int64 columns in Int64 and wraps past
// 2^63-1 without a word: four of them summed to -4 nano-USD, so a statement, the usage API's
// spend and the enforcement spend would all have shown a tiny negative figure. Now every money
// sum is an Int128, exact; a statement line that cannot be stored (Int64 columns) is left out and
// reported while the other accounts' lines are stored; a status that cannot carry the figure
// shows the Int64 maximum, and stays blocked.

const HUGE = 4n * INT64_MAX;

describe('money sums: many max-size costs stay exact', () => {
  let bed: TestBed<'requests' | 'accountStatus' | 'alerts'>;
  let clickhouse: ClickHouseClient;
  const now = new Date();
  const month = now.toISOString().slice(0, 7);
  const hour = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000);
  /** An org member's request, priced now. */
  const ledger = (account: string, nano: bigint) =>
    ledgerEntry({ account, user: `${account}-member`, nano, at: now.toISOString() });
  const org = (accountId: string): AccountSnapshot => ({
    schemaVersion: 1,
    accountId,
    kind: 'org',
    plan: 'team',
    effectiveAt: '2026-01-01T00:00:00.000Z',
    seats: 1,
    members: [`${accountId}-member`],
    spendingLimitNanoUsd: '1000000000',
  });

  beforeAll(async () => {
    bed = await testBed({ requests: 1, accountStatus: 1, alerts: 1 });
    clickhouse = bed.clickhouse;
    await clickhouse.insert({
      table: 'billing.account_snapshots',
      format: 'JSONEachRow',
      values: [org('org-huge'), org('org-small')].map(snapshotRow),
    });
    // Two inserts: the rollups fold them in a merge, as well as in the view.
    const huge = Array.from({ length: 4 }, () => ledger('org-huge', INT64_MAX));
    await insertLedgerEntries(clickhouse, [...huge.slice(0, 3), ledger('org-small', 5n)]);
    await insertLedgerEntries(clickhouse, huge.slice(3));
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('SQL sums, before and after the rollups merge', async () => {
    expect(
      await queryValue(
        clickhouse,
        "SELECT toString(sum(toInt128(cost_nano_usd))) FROM billing.ledger WHERE billed_account = 'org-huge'",
      ),
    ).toBe(String(HUGE));
    for (const table of ['usage_hourly', 'usage_by_key_hourly', 'usage_by_key_daily']) {
      await clickhouse.command({ query: `OPTIMIZE TABLE billing.${table} FINAL` });
    }
    expect(
      await queryValue(
        clickhouse,
        "SELECT toString(sum(cost_nano_usd)) FROM billing.usage_hourly WHERE billed_account = 'org-huge'",
      ),
    ).toBe(String(HUGE));
  });

  it('the usage API: month-to-date spend and the series, exact', async () => {
    expect(await monthToDateCost(clickhouse, 'org-huge', month)).toBe(HUGE);
    const series = await usageSeries(clickhouse, {
      account: 'org-huge',
      from: hour,
      to: new Date(hour.getTime() + 3_600_000),
      granularity: 'hour',
      groupBy: 'provider',
    });
    expect(series.totals.costNanoUsd).toBe(String(HUGE));
  });

  it('statements: the exact gross; the line that does not fit is left out, loudly, the others stored', async () => {
    const history = new AccountHistory();
    const lines = await monthStatements(clickhouse, history, month, now);
    expect(lines.find((l) => l.account_id === 'org-huge')?.gross).toBe(HUGE);

    // The service's log, as JSON lines.
    const logged: Array<{ account?: string; reason?: string }> = [];
    const logger = pino(
      { level: 'error' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          logged.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    );
    const statements = await startStatements({
      clickhouse,
      logger,
      deadlineMs: 24 * 60 * 60_000,
      schedule: null,
      now: () => now,
    });
    await statements.refresh();
    await statements.stop();
    const stored = await (
      await clickhouse.query({
        query: 'SELECT account_id, toString(gross_nano_usd) AS gross FROM billing.statements',
        format: 'JSONEachRow',
      })
    ).json<{ account_id: string; gross: string }>();
    expect(stored).toEqual([{ account_id: 'org-small', gross: '5' }]);
    expect(logged.map((l) => `${l.account}: ${l.reason}`)).toEqual([
      expect.stringMatching(/^org-huge: gross \$36893488147\.419103228 does not fit an Int64/),
    ]);
  });

  it('enforcement: the priced spend exact, the status blocked and publishable', async () => {
    const { kafka, topics, logger } = bed;
    const onTopic = await collectTopic(kafka, topics.accountStatus);
    let service: EnforcementService | undefined;
    try {
      service = await startEnforcement({
        kafka,
        clickhouse,
        logger,
        metrics: createMetricsRegistry(),
        providers: parseProviders({
          groq: { costUrl: 'https://groq.example/costs', tokenEnv: 'NANOBILL_TEST_UNUSED' },
        }),
        topics,
        groupId: uniqueName('enforcement'),
        tickMs: 0,
        ledgerOverlapMs: 0,
      });
      expect(service.spend('org-huge').priced).toBe(HUGE);
      const status = await waitFor('the status of org-huge', async () =>
        onTopic
          .values<AccountStatus>()
          .find((s) => s.accountId === 'org-huge' && s.status === 'blocked'),
      );
      expect(AccountStatus.parse(status).spendNanoUsd).toBe(String(INT64_MAX));
    } finally {
      await service?.stop();
      await onTopic.stop();
    }
  });
});
