import { correctRollups } from '@nanobill/usage';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { snapshotRow } from '@nanobill/accounts';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { AccountSnapshot, RoutedRequestEvent } from '@nanobill/contract';
import { monthOf } from '@nanobill/calendar';
import { startEnforcement, type EnforcementService } from '@nanobill/enforcement-service';
import { createMetricsRegistry } from '@nanobill/observability';
import type { Alert } from '@nanobill/contract';
import { parseProviders } from '@nanobill/providers';
import { finalizeIfDue, startStatements } from '@nanobill/statements';
import { AccountHistory } from '@nanobill/attribution';
import { AccountFactsReader } from '@nanobill/accounts';
import { produce, quietLogger, testClickHouse, testKafka, uniqueName } from '@nanobill/testkit';
import { ensureTopics } from '@nanobill/kafka';
import {
  AT_ONCE,
  readPublishedStatuses,
  startScheduledAudit,
  runAudit,
  type AuditOptions,
  type AuditedEnforcement,
  type CheckName,
  type CheckResult,
} from '../src/index.js';

// Each scenario lives in a month of its own, so that what one plants is seen by its audit only.
const DEADLINE_MS = 60 * 60_000;
const MODEL = 'meta-llama/Llama-3.3-70B-Instruct';
const NOW = new Date();
const CURRENT = monthOf(NOW);

let ch: { client: ClickHouseClient };
let sequence = 0;

interface Request {
  requestId: string;
  providerRequestId: string;
  userId: string;
  billTo?: string;
  at: Date;
}

function request(userId: string, at: Date, billTo?: string): Request {
  const requestId = `${uniqueName('req')}-${sequence++}`;
  return { requestId, providerRequestId: `groq-${requestId}`, userId, billTo, at };
}

async function insert(table: string, values: readonly object[]) {
  await ch.client.insert({ table, values, format: 'JSONEachRow' });
}

const iso = (d: Date) => d.toISOString();

function usageRow(r: Request) {
  return {
    request_id: r.requestId,
    event_time: iso(r.at),
    user_id: r.userId,
    bill_to: r.billTo ?? null,
    provider: 'groq',
    model: MODEL,
    task: 'conversational',
    billing_mode: 'routed',
    provider_request_id: r.providerRequestId,
    status: 200,
    input_tokens: 1000,
    output_tokens: 500,
    schema_version: 1,
    source_partition: 0,
    source_offset: sequence,
  };
}

function pendingRow(r: Request, firstSeen: Date) {
  return {
    provider: 'groq',
    provider_request_id: r.providerRequestId,
    request_id: r.requestId,
    event_time: iso(r.at),
    user_id: r.userId,
    bill_to: r.billTo ?? null,
    model: MODEL,
    task: 'conversational',
    first_seen_at: iso(firstSeen),
    source_partition: 0,
  };
}

/** A ledger row; of a past month, stored (`inserted_at`) when the request was priced. */
function ledgerRow(r: Request, cost: bigint, billedAccount = r.billTo ?? r.userId) {
  return {
    provider: 'groq',
    provider_request_id: r.providerRequestId,
    request_id: r.requestId,
    event_time: iso(r.at),
    priced_at: iso(r.at),
    user_id: r.userId,
    billed_account: billedAccount,
    attribution: r.billTo ? 'org' : 'user',
    bill_to: r.billTo ?? null,
    model: MODEL,
    task: 'conversational',
    cost_nano_usd: cost.toString(),
    cost_source: 'provider_api',
    ...(monthOf(r.at) === CURRENT ? {} : { inserted_at: iso(r.at) }),
    input_tokens: 1000,
    output_tokens: 500,
  };
}

function unpricedRow(r: Request) {
  return {
    ...pendingRow(r, r.at),
    unpriced_at: iso(r.at),
    reason: 'no answer before the deadline',
    alert_id: `unpriced:${r.requestId}`,
  };
}

/** A request unpriced at its deadline, and the `unpriced_requests` alert that announced it. */
async function unpriced(r: Request, { announced = true } = {}) {
  await insert('billing.unpriced_entries', [unpricedRow(r)]);
  if (!announced) return;
  await insert('billing.alert_log', [
    {
      alert_id: `unpriced:${r.requestId}`,
      type: 'unpriced_requests',
      severity: 'warning',
      message: 'm',
      details: JSON.stringify({ count: 1 }),
      created_at: iso(r.at),
      body: '{}',
    },
  ]);
}

/** A request priced at `cost`: in usage, pending (as pricing stores it), and the ledger. */
async function priced(r: Request, cost: bigint) {
  await insert('billing.usage', [usageRow(r)]);
  await insert('billing.pricing_pending', [pendingRow(r, r.at)]);
  await insert('billing.ledger_entries', [ledgerRow(r, cost)]);
}

function event(r: Request): RoutedRequestEvent {
  return {
    schemaVersion: 1,
    requestId: r.requestId,
    timestamp: iso(r.at),
    userId: r.userId,
    ...(r.billTo === undefined ? {} : { billTo: r.billTo }),
    provider: 'groq',
    model: MODEL,
    task: 'conversational',
    billingMode: 'routed',
    providerRequestId: r.providerRequestId,
    status: 200,
    usage: { inputTokens: 1_000, outputTokens: 500 },
  };
}

const snapshots: AccountSnapshot[] = [
  {
    schemaVersion: 1,
    accountId: 'alice',
    kind: 'user',
    plan: 'pro',
    effectiveAt: '2024-01-01T00:00:00Z',
  },
  {
    schemaVersion: 1,
    accountId: 'bob',
    kind: 'user',
    plan: 'free',
    effectiveAt: '2024-01-01T00:00:00Z',
  },
  {
    schemaVersion: 1,
    accountId: 'acme',
    kind: 'org',
    plan: 'team',
    effectiveAt: '2024-01-01T00:00:00Z',
    seats: 1,
    members: ['alice'],
    spendingLimitNanoUsd: 100_000_000_000, // $100
  },
];

/** A statement line changed by hand: `delta` added to one amount, stored as a newer version. */
async function editLine(month: string, account: string, column: string, delta: bigint, at: Date) {
  const [line] = await (
    await ch.client.query({
      query:
        'SELECT * FROM billing.statements WHERE month = {month:String} AND account_id = {account:String}',
      query_params: { month, account },
      format: 'JSONEachRow',
    })
  ).json<Record<string, string>>();
  // Final lines live in billing.statement_lines, drafts in billing.statement_drafts.
  const table = line!.status === 'final' ? 'billing.statement_lines' : 'billing.statement_drafts';
  await insert(table, [
    { ...line, [column]: String(BigInt(line![column]!) + delta), computed_at: iso(at) },
  ]);
}

function audit(month: string, checks: CheckName[], extra: Partial<AuditOptions> = {}) {
  return runAudit({
    clickhouse: ch.client,
    month,
    deadlineMs: DEADLINE_MS,
    confirmation: AT_ONCE,
    settleMs: 0,
    draftSettleMs: 0,
    correctionGraceMs: 0,
    checks,
    ...extra,
  });
}

async function only(month: string, check: CheckName, extra?: Partial<AuditOptions>) {
  const result = (await audit(month, [check], extra)).results[0]!;
  expect(result.error).toBeUndefined();
  return result;
}
const debug = process.env.DEBUG_AUDIT
  ? (r: unknown) =>
      console.log(
        JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 1),
      )
  : () => undefined;

const problems = (result: CheckResult) => result.examples.map((e) => e.problem);

beforeAll(async () => {
  ch = await testClickHouse();
  await insert('billing.account_snapshots', snapshots.map(snapshotRow));
}, 120_000);

afterAll(async () => {
  await ch?.client.close();
});

describe('nanobill audit on real ClickHouse: each planted violation is found', () => {
  it('a duplicated raw ledger row is seen where a reader sees it: the rollups, or conflicting copies', async () => {
    const month = '2025-03';
    const a = request('alice', new Date('2025-03-10T10:00:00Z'));
    const b = request('bob', new Date('2025-03-11T10:00:00Z'));
    await priced(a, 300_000_000n);
    await priced(b, 40_000_000n);
    expect((await only(month, 'duplicates')).violations).toBe(0);

    // The same row inserted twice (a race between two pricing instances): billing.ledger (FINAL)
    // hides it, the rollups fed by the raw inserts count it twice today.
    await insert('billing.ledger_entries', [ledgerRow(a, 300_000_000n)]);
    const twice = await only(month, 'duplicates');
    expect(problems(twice)).toContain('billing.usage_hourly differs from billing.ledger');
    expect(twice.examples).toContainEqual(
      expect.objectContaining({
        billed_account: 'alice',
        ledger_cost_nano_usd: '300000000',
        rollup_cost_nano_usd: '600000000',
      }),
    );

    // In a running pipeline the statements singleton corrects the rollups every 30 s: a duplicate
    // that no pass has seen yet is excused for the grace, and a pass makes the rollups exact.
    const late = request('carol', new Date('2025-03-12T10:00:00Z'));
    await priced(late, 5_000_000n);
    const stored = new Date().toISOString(); // a raw copy stored just now
    await insert('billing.ledger_entries', [
      { ...ledgerRow(late, 5_000_000n), inserted_at: stored },
    ]);
    const strict = await only(month, 'duplicates');
    const excused = await only(month, 'duplicates', { correctionGraceMs: 5 * 60_000 });
    // Its bucket in each rollup: one in usage_hourly, one per dimension (4) in each by-key rollup.
    expect(strict.violations - excused.violations).toBe(9);
    await correctRollups(ch.client);
    expect((await only(month, 'duplicates')).violations).toBe(0);

    // A second copy that differs: whichever one the ledger shows, the books are ambiguous.
    await insert('billing.ledger_entries', [ledgerRow(b, 41_000_000n)]);
    const conflicting = await only(month, 'duplicates');
    expect(conflicting.examples).toContainEqual(
      expect.objectContaining({
        problem: 'ledger key stored with different copies: billing.ledger shows one of them',
        provider_request_id: b.providerRequestId,
        versions: 2,
      }),
    );
    expect((await only(month, 'usage')).violations).toBe(0);
  });

  it('a final statement line edited by hand differs from its recomputation', async () => {
    const month = '2025-04';
    await priced(request('alice', new Date('2025-04-02T10:00:00Z')), 2_500_000_000n);
    await priced(request('alice', new Date('2025-04-20T10:00:00Z'), 'acme'), 700_000_000n);
    const facts = new AccountFactsReader(ch.client, new AccountHistory());
    await facts.refresh();
    expect(
      await finalizeIfDue(ch.client, facts.history, month, {
        now: new Date('2025-06-01T00:00:00Z'),
        deadlineMs: DEADLINE_MS,
      }),
    ).toBe(true);
    // A late row priced after the cut-off belongs to a later statement: the final one holds.
    const late = request('alice', new Date('2025-04-25T10:00:00Z'));
    await insert('billing.usage', [usageRow(late)]);
    await insert('billing.ledger_entries', [
      { ...ledgerRow(late, 5n), priced_at: '2025-07-01T00:00:00.000Z' },
    ]);
    const clean = await only(month, 'statements');
    expect(clean.summary).toMatch(/^final month/);
    expect(clean.violations).toBe(0);

    // Someone edits alice's final line: +1 nano-USD payable.
    await editLine(month, 'alice', 'payable_nano_usd', 1n, new Date('2025-06-02T00:00:00Z'));
    const edited = await only(month, 'statements');
    expect(edited.violations).toBe(1);
    expect(edited.examples[0]).toMatchObject({
      problem: 'final statement differs from its recomputation',
      account_id: 'alice',
      field: 'payable',
    });
  });

  it('a request left pending past the deadline is reported with its age; resolved, it is not', async () => {
    const month = '2025-05';
    const stuck = request('bob', new Date('2025-05-03T10:00:00Z'));
    await insert('billing.usage', [usageRow(stuck)]);
    // Consumed two hours ago (pending rows older than 60 days are dropped by their TTL).
    await insert('billing.pricing_pending', [
      pendingRow(stuck, new Date(Date.now() - 2 * DEADLINE_MS)),
    ]);
    const overdue = await only(month, 'usage');
    debug(overdue);
    expect(overdue.violations).toBe(1);
    expect(overdue.examples[0]).toMatchObject({
      problem: 'pending past the pricing deadline',
      request_id: stuck.requestId,
    });
    expect(Number(overdue.examples[0]!.pending_for_ms)).toBeGreaterThan(DEADLINE_MS);

    // A request stored by ingest that pricing never got: lost.
    const lost = request('bob', new Date('2025-05-04T10:00:00Z'));
    await insert('billing.usage', [usageRow(lost)]);
    expect(problems(await only(month, 'usage'))).toContain(
      'in none of ledger, unpriced, quarantine and pending',
    );

    // Unpriced at last, but its alert never logged: the alerts check says so.
    await unpriced(stuck, { announced: false });
    expect((await only(month, 'alerts')).examples).toContainEqual(
      expect.objectContaining({
        problem: 'unpriced requests whose alert was never logged',
        alert_id: `unpriced:${stuck.requestId}`,
      }),
    );
    await unpriced(stuck);
    expect((await only(month, 'alerts')).violations).toBe(0);
    await insert('billing.pricing_pending', [pendingRow(lost, new Date())]);
    // A request that reused the stuck one's provider request id: quarantined by pricing.
    const reused = request('bob', new Date('2025-05-05T10:00:00Z'));
    reused.providerRequestId = stuck.providerRequestId;
    await insert('billing.usage', [usageRow(reused)]);
    const { source_partition: _partition, ...columns } = pendingRow(reused, reused.at);
    await insert('billing.pricing_duplicates', [
      {
        ...columns,
        quarantined_at: iso(reused.at),
        reason: 'duplicate_provider_request_id',
        kept_request_id: stuck.requestId,
        alert_id: `duplicate:${reused.requestId}`,
      },
    ]);
    const settled = await only(month, 'usage');
    expect(settled.violations).toBe(0);
    expect(settled.summary).toMatch(/1 unpriced, 1 quarantined, 1 pending/);

    // Before migration 0014, an hf-inference request that could not be priced was counted, not
    // announced: such a row is no violation; any other row without its alert is.
    const refused = request('bob', new Date('2025-05-06T10:00:00Z'));
    const silent = { ...unpricedRow(refused), alert_id: '' };
    await insert('billing.unpriced_entries', [{ ...silent, provider: 'hf-inference' }]);
    expect((await only(month, 'alerts')).violations).toBe(0);
    const other = request('bob', new Date('2025-05-06T11:00:00Z'));
    await insert('billing.unpriced_entries', [{ ...unpricedRow(other), alert_id: '' }]);
    expect(problems(await only(month, 'alerts'))).toEqual([
      'unpriced requests without an announcing alert',
    ]);
  });

  it('a threshold reached by the ledger without its alert is reported, once raised it is not', async () => {
    const month = '2025-06';
    await priced(request('bob', new Date('2025-06-05T10:00:00Z')), 11_000_000_000n);
    const missing = await only(month, 'alerts');
    debug(missing);
    // A free user at $11: credits exhausted and $10 passed.
    expect(missing.examples.map((e) => e.alert_id).sort()).toEqual([
      'threshold:2025-06:bob:credits_exhausted',
      'threshold:2025-06:bob:spend_10_usd',
    ]);
    const logged = (alertId: string, threshold: string) => ({
      alert_id: alertId,
      type: 'spend_threshold',
      severity: 'info',
      account_id: 'bob',
      message: 'm',
      details: JSON.stringify({ threshold, month }),
      created_at: '2025-06-05T10:01:00.000Z',
      body: '{}',
    });
    await insert('billing.alert_log', [
      logged('threshold:2025-06:bob:credits_exhausted', 'credits_exhausted'),
      logged('threshold:2025-06:bob:spend_10_usd', 'spend_10_usd'),
    ]);
    expect((await only(month, 'alerts')).violations).toBe(0);
    await insert('billing.alert_log', [
      logged('threshold:2025-06:bob:spend_10_usd', 'spend_10_usd'),
    ]);
    expect((await only(month, 'alerts')).examples).toEqual([
      expect.objectContaining({
        problem: 'alert logged more than once',
        alert_id: 'threshold:2025-06:bob:spend_10_usd',
        rows: 2,
      }),
    ]);
  });
});

describe('the audit run by the pipeline', () => {
  it('sets nanobill_audit_violations per check and raises books_out_of_balance once per check and month', async () => {
    // In August 2025 it audits July (a ledger key with two different copies) and August.
    const twice = request('bob', new Date('2025-07-10T10:00:00Z'));
    await priced(twice, 1_000n);
    await insert('billing.ledger_entries', [ledgerRow(twice, 2_000n)]);
    const metrics = createMetricsRegistry();
    const raised: Alert[] = [];
    const audit = startScheduledAudit({
      clickhouse: ch.client,
      logger: quietLogger(),
      metrics,
      intervalMs: 0,
      deadlineMs: DEADLINE_MS,
      raise: async (alert) => void raised.push(alert),
      now: () => new Date('2025-08-15T00:00:00Z'),
      confirmation: AT_ONCE,
    });
    try {
      const reports = await audit.run();
      expect(reports.map((r) => r.month)).toEqual(['2025-07', '2025-08']);
      const gauge = await metrics.getSingleMetric('nanobill_audit_violations')!.get();
      const violations = new Map(gauge.values.map((v) => [v.labels.check, v.value]));
      expect(violations.get('duplicates')).toBeGreaterThan(0);
      expect(violations.get('usage')).toBe(0);
      expect(raised.map((a) => a.alertId)).toEqual(['books_out_of_balance:duplicates:2025-07']);
      expect(raised[0]).toMatchObject({ type: 'books_out_of_balance', severity: 'critical' });
      await audit.run();
      expect(raised).toHaveLength(1);
    } finally {
      await audit.stop();
    }
  });
});

const MONTH_START = Date.parse(`${CURRENT}-01T00:00:00Z`);

describe('nanobill audit with the running enforcement service (real broker)', () => {
  const kafka = testKafka();
  const topics = {
    requests: uniqueName('it-audit-requests'),
    accountStatus: uniqueName('it-audit-status'),
    alerts: uniqueName('it-audit-alerts'),
  };
  let enforcement: EnforcementService;
  const enforcementMetrics = createMetricsRegistry();
  const statuses = () => readPublishedStatuses(kafka, topics.accountStatus, quietLogger());

  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic: topics.requests, numPartitions: 2 },
      { topic: topics.accountStatus, numPartitions: 1 },
      { topic: topics.alerts, numPartitions: 1 },
    ]);
    enforcement = await startEnforcement({
      kafka,
      clickhouse: ch.client,
      logger: quietLogger(),
      metrics: enforcementMetrics,
      providers: parseProviders({
        groq: { costUrl: 'http://127.0.0.1:9/cost', tokenEnv: 'NANOBILL_TEST_TOKEN_AUDIT' },
      }),
      topics,
      groupId: uniqueName('audit-enforcement'),
      tickMs: 0,
      ledgerOverlapMs: 1_000,
    });
    // This month: two priced requests, one unpriced long ago (never estimated: too old), one
    // pending; the router's events reach enforcement, the stored rows ClickHouse.
    const minutes = (n: number) =>
      new Date(Math.max(NOW.getTime() - n * 60_000, Date.parse(`${CURRENT}-01T00:00:00Z`)));
    const p1 = request('alice', minutes(2));
    const p2 = request('alice', minutes(1), 'acme');
    const gone = request('bob', minutes(50));
    const open = request('bob', minutes(1));
    await produce(
      kafka,
      topics.requests,
      [p1, p2, gone, open].map((r) => ({ key: r.requestId, value: JSON.stringify(event(r)) })),
    );
    await priced(p1, 200_000_000n);
    await priced(p2, 100_000_000n);
    await insert('billing.usage', [usageRow(gone), usageRow(open)]);
    await insert('billing.pricing_pending', [
      pendingRow(gone, gone.at),
      pendingRow(open, new Date()),
    ]);
    await unpriced(gone);
    const statements = await startStatements({
      clickhouse: ch.client,
      logger: quietLogger(),
      deadlineMs: DEADLINE_MS,
      schedule: null,
    });
    await statements.refresh();
    await statements.stop();
    // Until enforcement has consumed the four events (one too old to estimate).
    await vi.waitFor(() => expect(enforcement.spend('bob').outstanding).toBeGreaterThan(0), {
      timeout: 10_000,
      interval: 100,
    });
  }, 120_000);

  afterAll(async () => {
    await enforcement?.stop();
  });

  it('a clean month reports zero violations in every check', async () => {
    const report = await audit(
      CURRENT,
      ['usage', 'duplicates', 'statements', 'enforcement', 'alerts'],
      {
        enforcement,
        publishedStatuses: statuses,
      },
    );
    expect(report.results.map((r) => r.check)).toEqual([
      'usage',
      'duplicates',
      'statements',
      'enforcement',
      'alerts',
    ]);
    for (const result of report.results) {
      expect({ check: result.check, examples: result.examples, skipped: result.skipped }).toEqual({
        check: result.check,
        examples: [],
        skipped: undefined,
      });
    }
    expect(report.violations).toBe(0);
    expect(report.results.every((r) => r.ok)).toBe(true);
    // Each check looked at something: the drafts were compared, the requests and spend too.
    const summary = (check: CheckName) => report.results.find((r) => r.check === check)!.summary;
    expect(summary('statements')).toMatch(/^draft month: 2 stored lines, 2 recomputed$/);
    expect(summary('usage')).toMatch(
      /4 routed requests reached a provider: 2 in the ledger, 1 unpriced, 0 quarantined, 1 pending/,
    );
    expect(summary('enforcement')).toBe('3 accounts compared with the ledger; 1 open requests');
  });

  it('a draft statement line edited by hand differs from its recomputation', async () => {
    await editLine(CURRENT, 'acme', 'gross_nano_usd', -1n, new Date());
    const edited = await only(CURRENT, 'statements');
    expect(edited.examples).toEqual([
      expect.objectContaining({
        problem: 'draft statement differs from its recomputation',
        account_id: 'acme',
        field: 'gross',
      }),
    ]);
  });

  it('an enforcement spend off by one nano-USD is reported with both figures', async () => {
    const offByOne: AuditedEnforcement = {
      tick: () => enforcement.tick(),
      books: () => {
        const books = enforcement.books();
        return {
          ...books,
          accounts: books.accounts.map((a) =>
            a.accountId === 'alice' ? { ...a, priced: a.priced + 1n } : a,
          ),
        };
      },
    };
    const result = await only(CURRENT, 'enforcement', {
      enforcement: offByOne,
      confirmation: { attempts: 2, delayMs: 10 },
    });
    expect(result.examples).toEqual([
      {
        problem: 'priced spend differs from the ledger month-to-date',
        account_id: 'alice',
        enforcement_priced_nano_usd: '200000001',
        ledger_nano_usd: '200000000',
      },
    ]);
  });

  it('without the enforcement service the check is skipped, not passed', async () => {
    const result = await only(CURRENT, 'enforcement');
    expect(result).toMatchObject({
      ok: false,
      violations: 0,
      skipped: 'enforcement not running here',
    });
  });

  it('a request whose payer is still unknown (within the grace) is no violation', async () => {
    // A user without any snapshot (a free user), priced before: enforcement holds the estimate
    // of their new request aside until the grace ends.
    const earlier = request('newcomer', new Date(Math.max(Date.now() - 20 * 60_000, MONTH_START)));
    await priced(earlier, 1_000_000n);
    const newcomer = request('newcomer', new Date());
    await produce(kafka, topics.requests, [
      { key: newcomer.requestId, value: JSON.stringify(event(newcomer)) },
    ]);
    await insert('billing.usage', [usageRow(newcomer)]);
    await insert('billing.pricing_pending', [pendingRow(newcomer, new Date())]);
    const waiting = async () =>
      (
        await enforcementMetrics.getSingleMetricAsString(
          'nanobill_enforcement_estimates_waiting_for_facts',
        )
      ).endsWith(' 1');
    // The gauge is set at each tick (this service ticks only when told).
    await vi.waitFor(
      async () => {
        await enforcement.tick();
        expect(await waiting()).toBe(true);
      },
      { timeout: 10_000, interval: 100 },
    );
    const result = await only(CURRENT, 'enforcement', { enforcement, publishedStatuses: statuses });
    expect(result.examples).toEqual([]);
  });
});
