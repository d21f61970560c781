import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { snapshotRow } from '@nanobill/accounts';
import type * as Accounts from '@nanobill/accounts';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { AccountSnapshot } from '@nanobill/contract';
import { createMetricsRegistry } from '@nanobill/observability';
import { ledgerEntry, queryValue, quietLogger, testClickHouse } from '@nanobill/testkit';
import { startStatements } from '../src/index.js';

/** An account whose facts cannot be read: any rule that throws for one account stands for it. */
const BROKEN = 'broken-d';
vi.mock('@nanobill/accounts', async (importOriginal) => {
  const original = await importOriginal<typeof Accounts>();
  return {
    ...original,
    accountMonth: (...args: Parameters<typeof original.accountMonth>) => {
      if (args[1] === BROKEN) throw new RangeError(`facts of ${BROKEN} cannot be read`);
      return original.accountMonth(...args);
    },
  };
});

const USD = 1_000_000_000n;
const DAY = 24 * 60 * 60 * 1000;

/** Holds every caller's first insert until `parties` callers have reached theirs. */
function barrier(parties: number) {
  let waiting = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return async () => {
    if (++waiting >= parties) open();
    await opened;
  };
}

/** The client, with its first insert held until `gate` resolves. */
function gated(client: ClickHouseClient, gate: () => Promise<void>): ClickHouseClient {
  let first = true;
  return new Proxy(client, {
    get(target, property) {
      if (property === 'insert') {
        return async (args: Parameters<ClickHouseClient['insert']>[0]) => {
          if (first) {
            first = false;
            await gate();
          }
          return target.insert(args);
        };
      }
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

// Real (embedded) ClickHouse; each test its own accounts and months.
describe('statements: finality, months with work, one bad account', () => {
  let clickhouse: ClickHouseClient;
  const ledger = (account: string, nano: bigint, at: string, pricedAt = at) =>
    ledgerEntry({ account, nano, at, pricedAt });
  const insert = (table: string, values: unknown[]) =>
    clickhouse.insert({ table, values, format: 'JSONEachRow' });
  const proUser = (accountId: string) =>
    snapshotRow(
      AccountSnapshot.parse({
        schemaVersion: 1,
        accountId,
        kind: 'user',
        plan: 'pro',
        effectiveAt: '2020-01-01T00:00:00.000Z',
      }),
    );
  const service = (
    client: ClickHouseClient,
    now: string,
    deadlineMs = DAY,
    metrics = createMetricsRegistry(),
  ) =>
    startStatements({
      clickhouse: client,
      logger: quietLogger(),
      metrics,
      deadlineMs,
      schedule: null,
      now: () => new Date(now),
      claimSettleMs: 50,
    });
  const lines = async (month: string) => {
    const result = await clickhouse.query({
      query: `SELECT account_id, gross_nano_usd, adjustment_nano_usd, status FROM billing.statements
              WHERE month = {month:String} ORDER BY account_id`,
      query_params: { month },
      format: 'JSONEachRow',
    });
    return result.json<{
      account_id: string;
      gross_nano_usd: string;
      adjustment_nano_usd: string;
      status: string;
    }>();
  };

  beforeAll(async () => {
    ({ client: clickhouse } = await testClickHouse());
  });
  afterAll(() => clickhouse?.close());

  it('two instances finalizing one month with different cut-offs count a row priced between them once', async () => {
    await insert('billing.account_snapshots', [proUser('race-a')]);
    await insert('billing.ledger_entries', [
      ledger('race-a', 2n * USD, '2026-01-10T00:00:00.000Z'),
      // Priced between the two instances' cut-offs (Feb 2 23:55 and Feb 3 23:55).
      ledger('race-a', 5n * USD, '2026-01-31T23:00:00.000Z', '2026-02-03T12:00:00.000Z'),
    ]);
    const both = barrier(2);
    const early = await service(gated(clickhouse, both), '2026-02-03T00:00:00Z');
    const late = await service(gated(clickhouse, both), '2026-02-04T00:00:00Z');
    await Promise.all([early.refresh(), late.refresh()]);
    // The month has one cut-off: one final statement row per account, and February's draft takes
    // as adjustment exactly what January's final statement left out.
    expect(
      Number(
        await queryValue(
          clickhouse,
          "SELECT uniqExact(finalized_at) FROM billing.statement_months WHERE month = '2026-01'",
        ),
      ),
    ).toBe(1);
    const january = await lines('2026-01');
    const february = await lines('2026-02');
    expect(january).toHaveLength(1);
    expect(january[0]!.status).toBe('final');
    const counted =
      BigInt(january[0]!.gross_nano_usd) + BigInt(february[0]?.adjustment_nano_usd ?? '0');
    expect(counted).toBe(7n * USD);

    // A second finalization later with yet another cut-off changes nothing.
    const again = await service(clickhouse, '2026-02-20T00:00:00Z');
    await again.refresh();
    expect(await lines('2026-01')).toEqual(january);
    await Promise.all([early.stop(), late.stop(), again.stop()]);
  });

  it('a draft computed before the month turned final and stored after it never replaces a final line', async () => {
    await insert('billing.account_snapshots', [proUser('draft-b')]);
    await insert('billing.ledger_entries', [
      ledger('draft-b', 3n * USD, '2026-04-10T00:00:00.000Z'),
    ]);
    // `slow` (a deadline of 30 days: April is not due for it) computes drafts, and stores them
    // only after `closer` has made April final; its clock is later, so its draft is newer.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const atInsert = new Promise<void>((resolve) => (reached = resolve));
    const slow = await service(
      gated(clickhouse, async () => {
        reached();
        await held;
      }),
      '2026-05-20T00:00:00Z',
      30 * DAY,
    );
    const closer = await service(clickhouse, '2026-05-05T00:00:00Z');
    const drafting = slow.refresh();
    await atInsert;
    await closer.refresh();
    const final = await lines('2026-04');
    expect(final).toEqual([
      {
        account_id: 'draft-b',
        gross_nano_usd: String(3n * USD),
        adjustment_nano_usd: '0',
        status: 'final',
      },
    ]);
    // Another April row priced since: a draft would include it, the final statement never.
    await insert('billing.ledger_entries', [
      ledger('draft-b', USD, '2026-04-30T00:00:00.000Z', '2026-05-10T00:00:00.000Z'),
    ]);
    release();
    await drafting;
    await slow.refresh();
    expect(await lines('2026-04')).toEqual(final);
    await Promise.all([slow.stop(), closer.stop()]);
  });

  it('a month two months back with work left is recomputed, and finalized once its work is done', async () => {
    await insert('billing.account_snapshots', [proUser('old-c')]);
    await insert('billing.ledger_entries', [ledger('old-c', USD, '2026-07-05T00:00:00.000Z')]);
    // A July request still pending in September (e.g. its provider left the providers file).
    await insert('billing.pricing_pending', [
      {
        provider: 'groq',
        provider_request_id: 'stuck-1',
        request_id: 'r-stuck-1',
        event_time: '2026-07-20T00:00:00.000Z',
        user_id: 'old-c',
        bill_to: null,
        model: 'm',
        task: 'conversational',
        // Now: the table keeps pending rows 60 days after they were first seen (TTL).
        first_seen_at: new Date().toISOString(),
        source_partition: 0,
      },
    ]);
    const september = await service(clickhouse, '2026-09-15T00:00:00Z');
    await september.refresh();
    expect(await lines('2026-07')).toEqual([
      {
        account_id: 'old-c',
        gross_nano_usd: String(USD),
        adjustment_nano_usd: '0',
        status: 'draft',
      },
    ]);
    // Its work is done: the request reaches the ledger.
    await insert('billing.ledger_entries', [
      {
        ...ledger('old-c', 2n * USD, '2026-07-20T00:00:00.000Z', '2026-09-15T00:00:00.000Z'),
        provider_request_id: 'stuck-1',
      },
    ]);
    const later = await service(clickhouse, '2026-09-16T00:00:00Z');
    await later.refresh();
    expect(await lines('2026-07')).toEqual([
      {
        account_id: 'old-c',
        gross_nano_usd: String(3n * USD),
        adjustment_nano_usd: '0',
        status: 'final',
      },
    ]);
    await Promise.all([september.stop(), later.stop()]);
  });

  it('an account whose computation throws is reported and never stops the others', async () => {
    await insert('billing.account_snapshots', [
      proUser('good-e'),
      proUser('good-f'),
      proUser(BROKEN),
    ]);
    await insert('billing.ledger_entries', [
      ledger('good-e', USD, '2026-11-05T00:00:00.000Z'),
      ledger(BROKEN, USD, '2026-11-05T00:00:00.000Z'),
      ledger('good-f', USD, '2026-11-06T00:00:00.000Z'),
    ]);
    const metrics = createMetricsRegistry();
    const drafts = await service(clickhouse, '2026-11-20T00:00:00Z', DAY, metrics);
    await drafts.refresh();
    expect((await lines('2026-11')).map((l) => [l.account_id, l.status])).toEqual([
      ['good-e', 'draft'],
      ['good-f', 'draft'],
    ]);
    const failures = await metrics.getSingleMetricAsString('nanobill_statement_failures_total');
    expect(failures).toContain('nanobill_statement_failures_total{scope="account"} 1');
    expect(await metrics.getSingleMetricAsString('nanobill_statement_accounts_failing')).toContain(
      'nanobill_statement_accounts_failing 1',
    );
    // Due: the good accounts' lines turn final; the month completes only once the bad one's can
    // be computed (it is tried again at every refresh, at the same cut-off).
    const closing = await service(clickhouse, '2026-12-05T00:00:00Z');
    await closing.refresh();
    expect((await lines('2026-11')).map((l) => [l.account_id, l.status])).toEqual([
      ['good-e', 'final'],
      ['good-f', 'final'],
    ]);
    expect(
      Number(
        await queryValue(
          clickhouse,
          "SELECT count() FROM billing.statement_months WHERE month = '2026-11'",
        ),
      ),
    ).toBe(0);
    await Promise.all([drafts.stop(), closing.stop()]);
  });
});
