import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { MAX_EVENT_WINDOW_MS, type Alert } from '@nanobill/contract';
import { ensureTopics, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import type { ProviderSimulator } from '@nanobill/provider-simulator';
import {
  produce,
  quietLogger,
  readTopic,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startPricing, type PricingService } from '../src/index.js';
import { asMessages, routedEvents, simulatedProviders } from './support.js';

// Real broker, real embedded ClickHouse, the provider simulator over HTTP; only the clock is
// driven by the test, one pricing round per simulated minute.
describe('pricing: a cost endpoint failing for 5 minutes → one cost_endpoint_failing alert', () => {
  const MINUTE = 60_000;
  const T0 = new Date('2026-11-25T10:00:00.000Z');
  let clock = T0;
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let simulator: ProviderSimulator;
  let pricing: PricingService;
  const topics = { requests: uniqueName('it-requests'), alerts: uniqueName('it-alerts') };
  const down = { kind: 'status', status: 503 } as const;
  const providers = {
    'sim-down': { faults: [down] },
    // Fails its first round (both attempts), then answers: never long enough to alert.
    'sim-flaky': { faults: [{ ...down, times: 2 }] },
    'sim-up': {},
  };
  const registry = createMetricsRegistry();

  // The round awaits the alert's acks=-1 send, so the topic's end offset counts every alert.
  const alertsOnTopic = async (): Promise<number> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topics.alerts);
      return offsets.reduce((sum, p) => sum + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  };
  const readAlerts = async (): Promise<Alert[]> => {
    const messages = await readTopic(kafka, topics.alerts, await alertsOnTopic());
    return messages.map((m) => JSON.parse(m.value!.toString()) as Alert);
  };
  const failingGauge = async (provider: string) =>
    (await registry.getSingleMetric('nanobill_pricing_endpoint_failing')!.get()).values.find(
      (v) => v.labels.provider === provider,
    )?.value;
  const enqueue = async (counts: Record<string, number>, seed: number) => {
    // Stamped with the test's clock: attribution waits for the account facts of a request
    // from the future.
    const events = Object.entries(counts).flatMap(([p, n]) =>
      routedEvents(p, n, seed).map((e) => ({ ...e, timestamp: clock.toISOString() })),
    );
    const before = pricing.pendingCount();
    await produce(kafka, topics.requests, asMessages(events));
    await waitFor('the new requests pending', async () =>
      pricing.pendingCount() === before + events.length ? true : undefined,
    );
  };
  const roundAt = async (minute: number) => {
    clock = new Date(T0.getTime() + minute * MINUTE);
    return pricing.priceNow();
  };

  beforeAll(async () => {
    kafka = testKafka();
    await ensureTopics(kafka, [
      { topic: topics.requests, numPartitions: 3 },
      { topic: topics.alerts, numPartitions: 1 },
    ]);
    ({ client: clickhouse } = await testClickHouse());
    const sim = await simulatedProviders(providers);
    simulator = sim.simulator;
    pricing = await startPricing({
      kafka,
      clickhouse,
      logger: quietLogger(),
      metrics: registry,
      providers: sim.registry,
      topics,
      groupId: uniqueName('pricing'),
      graceMs: 0, // no account snapshots here: users are billed as free users at once
      schedule: null,
      now: () => clock,
      // Events are stamped with the test's clock, a fixed day: the window admits them.
      eventWindow: { maxAgeMs: MAX_EVENT_WINDOW_MS, maxAheadMs: MAX_EVENT_WINDOW_MS },
      endpointFailingAfterMs: 5 * MINUTE,
      retry: { retries: 1, baseDelayMs: 10, maxDelayMs: 50 },
      maxWaitMs: 200,
    });
  });

  afterAll(async () => {
    await pricing?.stop();
    await simulator?.close();
    await clickhouse?.close();
  });

  it('alerts exactly once after the threshold, only for the failing provider; a new outage after recovery alerts again', async () => {
    await enqueue({ 'sim-down': 20, 'sim-flaky': 5, 'sim-up': 5 }, 1);
    expect(await failingGauge('sim-down')).toBe(0);

    await roundAt(0);
    expect(await failingGauge('sim-down')).toBe(1);
    expect(await failingGauge('sim-flaky')).toBe(1);
    expect(await failingGauge('sim-up')).toBe(0);
    await enqueue({ 'sim-up': 5 }, 2); // the healthy provider keeps being asked
    for (const minute of [1, 2, 3, 4]) await roundAt(minute);
    expect(await failingGauge('sim-flaky')).toBe(0); // answered at minute 1
    expect(await alertsOnTopic()).toBe(0); // 4 minutes of failure: below the threshold

    await roundAt(5);
    expect(await alertsOnTopic()).toBe(1);
    for (const minute of [6, 7, 8]) await roundAt(minute); // the same outage: no second alert
    expect(await failingGauge('sim-down')).toBe(1);

    const [alert, ...more] = await readAlerts();
    expect(more).toEqual([]);
    expect(alert).toMatchObject({
      alertId: `cost_endpoint_failing:sim-down:${T0.toISOString()}`,
      type: 'cost_endpoint_failing',
      severity: 'critical',
      provider: 'sim-down',
      details: {
        failingSince: T0.toISOString(),
        failingForMs: 5 * MINUTE,
        lastError: 'cost endpoint server_error: HTTP 503',
        pendingIds: 20,
      },
      createdAt: new Date(T0.getTime() + 5 * MINUTE).toISOString(),
    });
    expect(alert!.message).toMatch(/sim-down.*5 min.*HTTP 503/);

    // Recovery: everything is priced, nothing is alerted.
    simulator.clearFaults('sim-down');
    await roundAt(9);
    expect(await failingGauge('sim-down')).toBe(0);
    expect(pricing.pendingCount()).toBe(0);

    // A second outage, from minute 10: its own alert, once, 5 minutes later.
    simulator.setFaults('sim-down', [down]);
    await enqueue({ 'sim-down': 3, 'sim-up': 2 }, 3);
    for (const minute of [10, 11, 12, 13, 14]) await roundAt(minute);
    expect(await alertsOnTopic()).toBe(1);
    for (const minute of [15, 16]) await roundAt(minute);

    const alerts = await readAlerts();
    expect(alerts.map((a) => [a.alertId, a.details.pendingIds])).toEqual([
      [`cost_endpoint_failing:sim-down:${T0.toISOString()}`, 20],
      [`cost_endpoint_failing:sim-down:${new Date(T0.getTime() + 10 * MINUTE).toISOString()}`, 3],
    ]);
    expect(alerts.every((a) => a.provider === 'sim-down')).toBe(true);
  });
});
