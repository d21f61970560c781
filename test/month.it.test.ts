import { afterAll, describe, expect, it } from 'vitest';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import {
  MAX_EVENT_WINDOW_MS,
  type AccountSnapshot,
  type RoutedRequestEvent,
} from '@nanobill/contract';
import { createMetricsRegistry } from '@nanobill/observability';
import { startPricing } from '@nanobill/pricing';
import { parseProviders } from '@nanobill/providers';
import {
  defaultSimulatedProviders,
  startProviderSimulator,
  trueCostNanoUsd,
} from '@nanobill/provider-simulator';
import {
  accountSnapshots,
  createEventGenerator,
  HF_INFERENCE_HARDWARE,
} from '@nanobill/router-simulator';
import { monthStatements } from '@nanobill/statements';
import { produce, queryValue, testBed, uniqueName, waitFor } from '@nanobill/testkit';
import { expectedLine } from './fixtures/ground-truth.js';
import { startBedAccounts } from './fixtures/bed-services.js';

// A simulated month through Kafka, the accounts service and pricing; the statements are compared,
// account by account and to the nano-USD, with a computation written here from docs/contract.md §5
// without calling the production rules.
const MONTH = '2026-10';
const MONTH_START = Date.UTC(2026, 9, 1);
const MONTH_END = Date.UTC(2026, 10, 1);
const HARDWARE_NANO_PER_SECOND = Object.fromEntries(
  HF_INFERENCE_HARDWARE.map((h, i) => [h, BigInt(10_000 * (i + 1))]),
);

describe('a simulated month of traffic → statements', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const stop of cleanup.reverse()) await stop();
  });

  it('equal an independent computation for every account', async () => {
    const generator = createEventGenerator({
      seed: 2026,
      users: 300,
      orgs: 25,
      requestIdPrefix: `${uniqueName('month')}-`,
      startTime: new Date(MONTH_START),
      eventsPerSecondOfSimTime: 4_000 / (30 * 24 * 3600), // 4,000 events over the month
    });
    const events = generator.take(4_000).filter((e) => Date.parse(e.timestamp) < MONTH_END);
    const base = accountSnapshots(generator, new Date(MONTH_START - 24 * 3600 * 1000));
    // Mid-month changes: some users upgrade, some orgs grow, one org downgrades to free.
    const changes: AccountSnapshot[] = [];
    const mid = new Date(Date.UTC(2026, 9, 15)).toISOString();
    for (const s of base) {
      if (s.kind === 'user' && s.plan === 'free' && s.accountId.endsWith('7'))
        changes.push({ ...s, plan: 'pro', effectiveAt: mid });
      if (s.kind === 'org' && s.accountId.endsWith('3'))
        changes.push({ ...s, seats: s.seats + 2, effectiveAt: mid });
      if (s.kind === 'org' && s.accountId.endsWith('4'))
        changes.push({ ...s, plan: 'free', effectiveAt: mid });
    }
    const snapshots = [...base, ...changes];

    const bed = await testBed({
      requests: 3,
      alerts: 1,
      accounts: { partitions: 3, compact: true },
      accountsDlq: 1,
    });
    const { kafka, topics, clickhouse, logger } = bed;
    cleanup.push(bed.close);
    const simulated = defaultSimulatedProviders();
    const simulator = await startProviderSimulator({ providers: simulated });
    cleanup.push(() => simulator.close());
    const file: Record<string, unknown> = {
      'hf-inference': {
        hardware: Object.fromEntries(
          Object.entries(HARDWARE_NANO_PER_SECOND).map(([h, nano]) => [
            h,
            `0.${nano.toString().padStart(9, '0')}`,
          ]),
        ),
      },
    };
    for (const [name, { token }] of Object.entries(simulated)) {
      const tokenEnv = `MONTH_TOKEN_${name.toUpperCase().replace(/-/g, '_')}`;
      process.env[tokenEnv] = token;
      file[name] = { costUrl: simulator.costUrl(name), tokenEnv };
    }
    const accounts = await startBedAccounts(bed);
    cleanup.push(() => accounts.stop());
    const pricing = await startPricing({
      kafka,
      clickhouse,
      logger,
      metrics: createMetricsRegistry(),
      providers: parseProviders(file),
      topics: { requests: topics.requests, alerts: topics.alerts },
      groupId: uniqueName('pricing'),
      schedule: null,
      // A month in the past (2026-10): the event window admits it.
      eventWindow: { maxAgeMs: MAX_EVENT_WINDOW_MS, maxAheadMs: 5 * 60_000 },
    });
    cleanup.push(() => pricing.stop());

    await produce(
      kafka,
      topics.accounts,
      snapshots.map((s) => ({ key: s.accountId, value: JSON.stringify(s) })),
    );
    await waitFor('the snapshots stored', async () => {
      const stored = Number(
        await queryValue(clickhouse, 'SELECT count() FROM billing.account_snapshots'),
      );
      return stored === snapshots.length ? true : undefined;
    });
    const priced = events.filter(
      (e) => e.billingMode === 'routed' && e.providerRequestId !== undefined,
    );
    await produce(
      kafka,
      topics.requests,
      events.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
    );
    await waitFor('all pending', async () =>
      pricing.pendingCount() === priced.length ? true : undefined,
    );
    const report = await pricing.priceNow();
    expect(report.stillPending).toBe(0);
    // billing.usage is the ingest service's; the custom-key counts read it, so write it here.
    await clickhouse.insert({
      table: 'billing.usage',
      format: 'JSONEachRow',
      values: events
        .filter((e) => e.billingMode === 'custom_key')
        .map((e, i) => ({
          request_id: e.requestId,
          event_time: e.timestamp,
          user_id: e.userId,
          bill_to: e.billTo ?? null,
          provider: e.provider,
          model: e.model,
          task: e.task,
          billing_mode: e.billingMode,
          status: e.status,
          schema_version: 1,
          source_partition: 0,
          source_offset: i,
        })),
    });

    const reader = new AccountFactsReader(clickhouse, new AccountHistory());
    await reader.refresh();
    const lines = await monthStatements(
      clickhouse,
      reader.history,
      MONTH,
      new Date(MONTH_END + 3600_000),
    );
    const expected = independentStatements(events, snapshots);
    expect(lines.length).toBe(expected.size);
    for (const line of lines) {
      const want = expected.get(line.account_id);
      expect(want, line.account_id).toBeDefined();
      expect(
        {
          gross: line.gross,
          grant: line.credits_granted,
          applied: line.credits_applied,
          payable: line.payable,
          writtenOff: line.written_off,
          customKey: line.custom_key_requests,
        },
        line.account_id,
      ).toEqual(want);
    }
    const orgs = lines.filter((l) => l.account_kind === 'org').length;
    console.log(
      `month test: ${events.length} events, ${priced.length} priced, ${lines.length} statement lines (${orgs} orgs)`,
    );
  });
});

/** docs/contract.md §5 and its credits table, written out again for the test. */
function independentStatements(events: RoutedRequestEvent[], snapshots: AccountSnapshot[]) {
  const inForce = (accountId: string, t: number) =>
    snapshots
      .filter((s) => s.accountId === accountId && Date.parse(s.effectiveAt) <= t)
      .sort((a, b) => Date.parse(a.effectiveAt) - Date.parse(b.effectiveAt))
      .at(-1);
  const payer = (e: RoutedRequestEvent) => {
    if (!e.billTo) return e.userId;
    const org = inForce(e.billTo, Date.parse(e.timestamp));
    const paying = org?.kind === 'org' && (org.plan === 'team' || org.plan === 'enterprise');
    return paying && org.kind === 'org' && org.members.includes(e.userId) ? e.billTo : e.userId;
  };
  const grantOf = (s: AccountSnapshot | undefined): bigint => {
    if (!s) return 100_000_000n;
    if (s.kind === 'user') return s.plan === 'pro' ? 2_000_000_000n : 100_000_000n;
    return s.plan === 'free' ? 0n : 2_000_000_000n * BigInt(s.seats);
  };
  const gross = new Map<string, bigint>();
  const customKey = new Map<string, number>();
  for (const e of events) {
    const account = payer(e);
    if (e.billingMode === 'custom_key') {
      customKey.set(account, (customKey.get(account) ?? 0) + 1);
      continue;
    }
    if (e.providerRequestId === undefined) continue;
    const cost =
      e.provider === 'hf-inference'
        ? (BigInt(e.computeTimeMs!) * HARDWARE_NANO_PER_SECOND[e.hardware!]! + 500n) / 1000n
        : trueCostNanoUsd(e.provider, e.providerRequestId);
    gross.set(account, (gross.get(account) ?? 0n) + cost);
  }
  const result = new Map<string, object>();
  for (const account of new Set([...gross.keys(), ...customKey.keys()])) {
    const during = snapshots.filter(
      (s) =>
        s.accountId === account &&
        Date.parse(s.effectiveAt) > MONTH_START &&
        Date.parse(s.effectiveAt) < MONTH_END,
    );
    const grant = [inForce(account, MONTH_START), ...during].reduce((max, s) => {
      const g = grantOf(s);
      return g > max ? g : max;
    }, 0n);
    // Pay-as-you-go at any moment of the month: a downgrade takes effect next month.
    const held = [inForce(account, MONTH_START), ...during].filter((s) => s !== undefined);
    const paysAsItGoes = held.some((s) =>
      s.kind === 'org' ? s.plan !== 'free' : s.plan === 'pro',
    );
    result.set(
      account,
      expectedLine(gross.get(account) ?? 0n, grant, paysAsItGoes, customKey.get(account) ?? 0),
    );
  }
  return result;
}
