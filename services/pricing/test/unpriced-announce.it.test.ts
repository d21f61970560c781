import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Alert } from '@nanobill/contract';
import { ensureTopics, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import type { ProviderSimulator } from '@nanobill/provider-simulator';
import type { ProviderRegistry } from '@nanobill/providers';
import {
  produce,
  queryValue,
  quietLogger,
  readTopic,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startPricing, type PricingService } from '../src/index.js';
import { asMessages, routedEvents, simulatedProviders } from './support.js';

// The unpriced rows are stored, then their alert is published: a process that dies in between
// must not leave those requests unannounced. Here the publish fails (the alerts topic cannot
// be written), the process stops, and the next start publishes the alert the rows name.
describe('pricing: an unpriced_requests alert lost between storing and publishing is published at the next start', () => {
  const MINUTE = 60_000;
  const T0 = new Date(Date.now() - 10 * MINUTE);
  let clock = T0;
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let simulator: ProviderSimulator;
  let providers: ProviderRegistry;
  const requests = uniqueName('it-requests');
  const alerts = uniqueName('it-alerts');
  const groupId = uniqueName('pricing');
  const running: PricingService[] = [];

  const start = async (alertsTopic: string) => {
    const pricing = await startPricing({
      kafka,
      clickhouse,
      logger: quietLogger(),
      metrics: createMetricsRegistry(),
      providers,
      topics: { requests, alerts: alertsTopic },
      groupId,
      graceMs: 0,
      schedule: null,
      now: () => clock,
      deadlineMs: 2 * MINUTE,
      retry: { retries: 0, baseDelayMs: 10, maxDelayMs: 10 },
      maxWaitMs: 100,
    });
    running.push(pricing);
    return pricing;
  };
  const alertsOnTopic = async (): Promise<Alert[]> => {
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(alerts);
    await admin.disconnect();
    const count = offsets.reduce((sum, p) => sum + Number(p.high), 0);
    return (await readTopic(kafka, alerts, count)).map(
      (m) => JSON.parse(m.value!.toString()) as Alert,
    );
  };

  beforeAll(async () => {
    kafka = testKafka();
    await ensureTopics(kafka, [{ topic: requests, numPartitions: 2 }]);
    ({ client: clickhouse } = await testClickHouse());
    const sim = await simulatedProviders({
      'sim-down': { faults: [{ kind: 'status', status: 503 }] },
    });
    simulator = sim.simulator;
    providers = sim.registry;
  });

  afterAll(async () => {
    for (const pricing of running) await pricing.stop().catch(() => undefined);
    await simulator?.close();
    await clickhouse?.close();
  });

  it('stores the alert id with the rows, and publishes that alert once the process is back', async () => {
    // An invalid topic name: every publish of this process fails, as if it died before it.
    const first = await start('not a valid topic name');
    const events = routedEvents('sim-down', 25, 1).map((e) => ({
      ...e,
      timestamp: T0.toISOString(),
    }));
    await produce(kafka, requests, asMessages(events));
    await waitFor('the requests pending', async () =>
      first.pendingCount() === events.length ? true : undefined,
    );
    await first.priceNow(); // asked, 503
    clock = new Date(T0.getTime() + 3 * MINUTE);
    const report = await first.priceNow(); // past the deadline: unpriced, the alert fails
    expect(report.unpriced).toBe(25);
    const [stored] = await (
      await clickhouse.query({
        query: `SELECT alert_id, count() AS n, toString(min(unpriced_at)) AS at
                FROM billing.unpriced_entries GROUP BY alert_id`,
        format: 'JSONEachRow',
      })
    ).json<{ alert_id: string; n: string; at: string }>();
    expect(stored).toMatchObject({ n: '25' });
    expect(stored!.alert_id).toMatch(/^unpriced_requests:sim-down:/);
    await first.stop();
    running.length = 0;

    await ensureTopics(kafka, [{ topic: alerts, numPartitions: 1 }]);
    await start(alerts);
    const [alert, ...more] = await waitFor('the alert published again', async () => {
      const onTopic = await alertsOnTopic();
      return onTopic.length > 0 ? onTopic : undefined;
    });
    expect(more).toEqual([]);
    expect(alert).toEqual({
      schemaVersion: 1,
      alertId: stored!.alert_id,
      type: 'unpriced_requests',
      severity: 'warning',
      provider: 'sim-down',
      message: '25 sim-down request(s) passed the pricing deadline without a valid cost',
      details: {
        count: 25,
        deadlineMs: 2 * MINUTE,
        reasons: { 'cost endpoint server_error: HTTP 503': 25 },
      },
      createdAt: clock.toISOString(),
    });
  });

  it('does not publish it again once the alert log holds it', async () => {
    const alertId = await queryValue(
      clickhouse,
      "SELECT any(alert_id) FROM billing.unpriced_entries WHERE alert_id != ''",
    );
    await clickhouse.insert({
      table: 'billing.alert_log',
      values: [
        {
          alert_id: alertId,
          type: 'unpriced_requests',
          severity: 'warning',
          account_id: null,
          provider: 'sim-down',
          message: 'logged by the alerts service',
          details: '{}',
          created_at: clock.toISOString(),
          body: '{}',
          webhook_url: null,
        },
      ],
      format: 'JSONEachRow',
    });
    for (const pricing of running) await pricing.stop();
    running.length = 0;
    await start(alerts);
    // The start-up check runs before startPricing returns: nothing new on the topic.
    expect((await alertsOnTopic()).map((a) => a.alertId)).toEqual([alertId]);
  });
});
