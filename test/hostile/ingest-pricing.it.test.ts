import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Alert } from '@nanobill/contract';
import { DLQ_HEADERS, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import type { ProviderSimulator } from '@nanobill/provider-simulator';
import {
  collectTopic,
  produce,
  readTopic,
  testBed,
  uniqueName,
  waitFor,
  type TestBed,
} from '@nanobill/testkit';
import { startPricing, type PricingService } from '@nanobill/pricing';
import {
  asMessages,
  routedEvents,
  simulatedProviders,
} from '../../services/pricing/test/support.js';

// Pricing's ledger and unpriced inserts when ClickHouse refuses one row (a CHECK constraint on
// this test's own tables: a real engine refusal). The round goes on, the other rows are stored,
// the refused request stays pending with the reason (metric, ops alert) and is never in both
// tables, never lost. Also: an X-HF-Bill-To that is not a valid org name bills the user.
describe('pricing when ClickHouse refuses a pending, a ledger or an unpriced row', () => {
  const DEADLINE_MS = 60_000;
  // The business clock starts an hour after the events: the attribution grace is over.
  let clock = new Date(Date.now() + 60 * 60_000);
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let simulator: ProviderSimulator;
  let pricing: PricingService | undefined;
  let alerts: Awaited<ReturnType<typeof collectTopic>>;
  const registry = createMetricsRegistry();
  let bed: TestBed<'requests' | 'alerts' | 'dlq'>;

  beforeAll(async () => {
    bed = await testBed({ requests: 3, alerts: 1, dlq: 1 });
    ({ kafka, clickhouse } = bed);
    await clickhouse.command({
      query: `ALTER TABLE billing.ledger_entries ADD CONSTRAINT hostile_ledger CHECK NOT like(request_id, '%refuse-ledger%')`,
    });
    await clickhouse.command({
      query: `ALTER TABLE billing.pricing_pending ADD CONSTRAINT hostile_pending CHECK NOT like(request_id, '%refuse-pending%')`,
    });
    await clickhouse.command({
      query: `ALTER TABLE billing.unpriced_entries ADD CONSTRAINT hostile_unpriced CHECK NOT like(request_id, '%refuse-unpriced%')`,
    });
    const sim = await simulatedProviders({
      'sim-hostile': {},
      'sim-silent': { faults: [{ kind: 'drop-ids', share: 1, until: 'never' }] },
    });
    simulator = sim.simulator;
    alerts = await collectTopic(kafka, bed.topics.alerts);
    pricing = await startPricing({
      kafka,
      clickhouse,
      logger: bed.logger,
      metrics: registry,
      providers: sim.registry,
      topics: bed.topics,
      groupId: uniqueName('pricing-hostile'),
      deadlineMs: DEADLINE_MS,
      graceMs: 5 * 60_000,
      schedule: null,
      now: () => clock,
      retry: { retries: 0, baseDelayMs: 10, maxDelayMs: 10 },
      maxWaitMs: 100,
    });
  });

  afterAll(async () => {
    await pricing?.stop();
    await alerts?.stop();
    await simulator?.close();
    await bed?.close();
  });

  const rows = async (table: string) => {
    const result = await clickhouse.query({
      query: `SELECT request_id, billed_account, attribution, attribution_reason, bill_to, reason
              FROM (SELECT request_id, billed_account, attribution, attribution_reason, bill_to, '' AS reason FROM billing.ledger_entries WHERE {t:String} = 'ledger'
                    UNION ALL
                    SELECT request_id, '' , '', '', bill_to, reason FROM billing.unpriced_entries WHERE {t:String} = 'unpriced')`,
      query_params: { t: table },
      format: 'JSONEachRow',
    });
    const list = await result.json<Record<string, string>>();
    return new Map(list.map((r) => [r.request_id!, r]));
  };
  const refusedMetric = async (table: string) =>
    (
      (await registry.getSingleMetric('nanobill_pricing_refused_rows_total')?.get())?.values ?? []
    ).find((v) => v.labels.table === table)?.value ?? 0;

  const invalidOrgNames = {
    nul: 'acme\u0000x',
    newline: 'acme\nx',
    rtlOverride: 'acme\u202Egpj.exe',
    emoji: 'acme😀',
    sqlQuote: "acme'; DROP TABLE billing.ledger_entries; --",
    dotDot: '../acme',
    tooLong: 'a'.repeat(97),
  };

  it('one refused row never blocks the round; it stays pending, then follows the deadline; never in both tables', async () => {
    const priced = routedEvents('sim-hostile', 20, 3);
    const [guiltyLedger] = routedEvents('sim-hostile', 1, 4).map((e) => ({
      ...e,
      requestId: `${e.requestId}-refuse-ledger`,
    }));
    const fallbacks = Object.entries(invalidOrgNames).map(([name, billTo], i) => ({
      name,
      event: { ...routedEvents('sim-hostile', 1, 10 + i)[0]!, billTo },
    }));
    const silent = routedEvents('sim-silent', 5, 5);
    const [guiltyUnpriced] = routedEvents('sim-silent', 1, 6).map((e) => ({
      ...e,
      requestId: `${e.requestId}-refuse-unpriced`,
    }));
    const [guiltyPending] = routedEvents('sim-hostile', 1, 7).map((e) => ({
      ...e,
      requestId: `${e.requestId}-refuse-pending`,
    }));
    const all = [
      ...priced,
      guiltyLedger!,
      ...fallbacks.map((f) => f.event),
      ...silent,
      guiltyUnpriced!,
    ];
    await produce(kafka, bed.topics.requests, asMessages([...all, guiltyPending!]));
    // The request pricing_pending refuses is dead-lettered with the reason; the others wait.
    const [dead] = await readTopic(kafka, bed.topics.dlq, 1);
    expect(dead!.key!.toString()).toBe(guiltyPending!.requestId);
    expect(dead!.headers?.[DLQ_HEADERS.code]?.toString()).toBe('storage_refused');
    expect(dead!.headers?.[DLQ_HEADERS.reason]?.toString()).toContain('billing.pricing_pending');
    await waitFor('every other request pending', async () =>
      pricing!.pendingCount() >= all.length ? true : undefined,
    );
    expect(await refusedMetric('billing.pricing_pending')).toBe(1);

    // Round 1: everything answered is priced, except the row the ledger refuses.
    await pricing!.priceNow();
    let ledger = await rows('ledger');
    for (const e of [...priced, ...fallbacks.map((f) => f.event)]) {
      expect(ledger.has(e.requestId), e.requestId).toBe(true);
    }
    expect(ledger.has(guiltyLedger!.requestId)).toBe(false);
    expect(await refusedMetric('billing.ledger_entries')).toBeGreaterThanOrEqual(1);
    await waitFor('the ops alert', async () =>
      alerts.values<Alert>().find((a) => a.type === 'storage_refused') ? true : undefined,
    );
    const alert = alerts.values<Alert>().find((a) => a.type === 'storage_refused')!;
    expect(alert.details.table).toBe('billing.ledger_entries');
    expect(String(alert.message)).toContain('VIOLATED_CONSTRAINT');
    expect(pricing!.pendingCount()).toBe(1 + silent.length + 1);

    // An X-HF-Bill-To that is not a valid org name: billed to the user, flagged, header kept.
    for (const { name, event } of fallbacks) {
      expect(ledger.get(event.requestId), name).toMatchObject({
        billed_account: event.userId,
        attribution: 'user_fallback',
        bill_to: event.billTo,
      });
      expect(ledger.get(event.requestId)!.attribution_reason, name).toContain(
        'bill_to is not a valid org name',
      );
    }

    // Past the deadline: the refused ledger row becomes unpriced with its reason; the silent
    // provider's requests too, except the one the unpriced table refuses, which stays pending.
    clock = new Date(clock.getTime() + DEADLINE_MS + 1_000);
    await pricing!.priceNow();
    ledger = await rows('ledger');
    const unpriced = await rows('unpriced');
    expect(unpriced.get(guiltyLedger!.requestId)?.reason).toContain('VIOLATED_CONSTRAINT');
    for (const e of silent) expect(unpriced.has(e.requestId)).toBe(true);
    expect(unpriced.has(guiltyUnpriced!.requestId)).toBe(false);
    expect(await refusedMetric('billing.unpriced_entries')).toBeGreaterThanOrEqual(1);
    expect(pricing!.pendingCount()).toBe(1);
    expect(ledger.has(guiltyPending!.requestId) || unpriced.has(guiltyPending!.requestId)).toBe(
      false,
    );
    for (const e of all) {
      const inLedger = ledger.has(e.requestId);
      const inUnpriced = unpriced.has(e.requestId);
      expect(inLedger && inUnpriced, e.requestId).toBe(false);
      if (e !== guiltyUnpriced) expect(inLedger || inUnpriced, e.requestId).toBe(true);
    }
    // The one that no table accepts is not lost: still in billing.pricing_pending.
    const pending = await clickhouse.query({
      query: 'SELECT count() AS n FROM billing.pricing_pending WHERE request_id = {id:String}',
      query_params: { id: guiltyUnpriced!.requestId },
      format: 'JSONEachRow',
    });
    expect((await pending.json<{ n: string }>())[0]!.n).toBe('1');
  });
});
