import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { ensureTopics, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { trueCostNanoUsd, type ProviderSimulator } from '@nanobill/provider-simulator';
import {
  produce,
  queryValue,
  quietLogger,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startPricing, type PricingService } from '../src/index.js';
import { asMessages, routedEvents, simulatedProviders } from './support.js';

// Memory is bounded by the cap, not by the traffic: past it, consumed requests are only stored
// (billing.pricing_pending), and each round's room is refilled from ClickHouse, oldest first.
// Real broker, real embedded ClickHouse, the provider simulator over HTTP.
describe('pricing with its pending set full', () => {
  const CAP = 40;
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let simulator: ProviderSimulator;
  let providers: Awaited<ReturnType<typeof simulatedProviders>>['registry'];
  const groupId = uniqueName('pricing-cap');
  const closers: Array<() => Promise<unknown>> = [];
  let registry = createMetricsRegistry();
  const topics = { requests: uniqueName('it-requests'), alerts: uniqueName('it-alerts') };
  const gauge = async (name: string) =>
    (await registry.getSingleMetric(name)!.get()).values[0]?.value;

  const start = async (): Promise<PricingService> => {
    registry = createMetricsRegistry(); // a process of its own
    const pricing = await startPricing({
      kafka,
      clickhouse,
      logger: quietLogger(),
      metrics: registry,
      providers,
      topics,
      groupId,
      graceMs: 0,
      schedule: null,
      maxWaitMs: 100,
      maxPendingInMemory: CAP,
    });
    closers.push(() => pricing.stop());
    return pricing;
  };

  beforeAll(async () => {
    kafka = testKafka();
    await ensureTopics(kafka, [
      { topic: topics.requests, numPartitions: 3 },
      { topic: topics.alerts, numPartitions: 1 },
    ]);
    ({ client: clickhouse } = await testClickHouse());
    const sim = await simulatedProviders({ 'sim-cap': {}, 'sim-cap-b': {} });
    simulator = sim.simulator;
    providers = sim.registry;
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await simulator?.close();
    await clickhouse?.close();
  });

  it('holds at most the cap, stores the rest, and prices every request exactly once over the rounds; a restart finds the rest', async () => {
    const events = [...routedEvents('sim-cap', 70, 51), ...routedEvents('sim-cap-b', 30, 52)];
    const first = await start();
    await produce(kafka, topics.requests, asMessages(events));
    await waitFor('all 100 stored as pending', async () =>
      Number(await queryValue(clickhouse, 'SELECT count() FROM billing.pricing_pending')) === 100
        ? true
        : undefined,
    );
    await waitFor('the set full', async () => (first.pendingCount() === CAP ? true : undefined));
    expect(await gauge('nanobill_pricing_pending_cap')).toBe(CAP);
    expect(await gauge('nanobill_pricing_pending_in_memory')).toBe(CAP);
    expect(await gauge('nanobill_pricing_unloaded_partitions')).toBeGreaterThan(0);

    // One round prices what is in memory; the room it makes is refilled from ClickHouse.
    expect(await first.priceNow()).toMatchObject({ priced: CAP, unpriced: 0 });
    await waitFor('refilled', async () => (first.pendingCount() === CAP ? true : undefined));
    expect(await first.priceNow()).toMatchObject({ priced: CAP });
    await first.stop();
    closers.pop();

    // A restart (same group: nothing consumed again) loads what is left from ClickHouse.
    const second = await start();
    await waitFor('the rest loaded', async () =>
      second.pendingCount() === 100 - 2 * CAP ? true : undefined,
    );
    expect(await second.priceNow()).toMatchObject({ priced: 100 - 2 * CAP, stillPending: 0 });
    expect(await gauge('nanobill_pricing_unloaded_partitions')).toBe(0);

    const ledger = await clickhouse.query({
      query: `SELECT provider_request_id AS id, toString(cost_nano_usd) AS cost, count() AS n
              FROM billing.ledger_entries GROUP BY id, cost`,
      format: 'JSONEachRow',
    });
    const rows = await ledger.json<{ id: string; cost: string; n: string }>();
    expect(rows).toHaveLength(events.length);
    expect(rows.every((r) => r.n === '1')).toBe(true);
    const cost = new Map(rows.map((r) => [r.id, BigInt(r.cost)]));
    for (const e of events) {
      expect(cost.get(e.providerRequestId!)).toBe(
        trueCostNanoUsd(e.provider, e.providerRequestId!),
      );
    }
  });
});
