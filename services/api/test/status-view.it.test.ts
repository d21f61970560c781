import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import { openFinanceSql } from '@nanobill/clickhouse';
import type { AccountStatus } from '@nanobill/contract';
import { ensureTopics, type Kafka } from '@nanobill/kafka';
import { ComponentHealth, createMetricsRegistry } from '@nanobill/observability';
import {
  produce,
  quietLogger,
  testClickHouse,
  testKafka,
  testWebhookSecrets,
  uniqueName,
} from '@nanobill/testkit';
import { createToken, startApiServer, startStatusView, TokenStore } from '../src/index.js';

const blocked = (accountId: string): AccountStatus => ({
  schemaVersion: 1,
  accountId,
  kind: 'user',
  plan: 'free',
  month: '2026-10',
  status: 'blocked',
  reason: 'blocked: credits used up',
  basis: 'credits',
  spendNanoUsd: '100000000',
  pricedNanoUsd: '100000000',
  estimatedNanoUsd: '0',
  limitNanoUsd: '100000000',
  disabledProviders: [],
  updatedAt: '2026-10-20T11:59:00.000Z',
});

/** The broker, with every consumer's batches held until `held` resolves. */
function holdingBatches(kafka: Kafka, held: Promise<void>): Kafka {
  return new Proxy(kafka, {
    get(target, property) {
      if (property !== 'consumer') return Reflect.get(target, property) as unknown;
      return (config: Parameters<Kafka['consumer']>[0]) => {
        const consumer = target.consumer(config);
        const run = consumer.run.bind(consumer);
        consumer.run = (options) =>
          run({
            ...options,
            eachBatch: async (payload) => {
              await held;
              await options?.eachBatch?.(payload);
            },
          });
        return consumer;
      };
    },
  });
}

// Real broker, real ClickHouse: the API as it restarts with statuses already on the topic.
describe('the API status view after a restart', () => {
  const kafka = testKafka();
  const topic = uniqueName('it-status-restart');
  let ch: Awaited<ReturnType<typeof testClickHouse>>;

  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic, numPartitions: 3, configs: { 'cleanup.policy': 'compact' } },
    ]);
    ch = await testClickHouse();
    // The blocked account's status comes last, behind thousands of others.
    const others = Array.from({ length: 3000 }, (_, i) => ({
      key: `user-${i}`,
      value: JSON.stringify({ ...blocked(`user-${i}`), status: 'ok' }),
    }));
    await produce(kafka, topic, [
      ...others,
      { key: 'late', value: JSON.stringify(blocked('late')) },
    ]);
  });
  afterAll(() => ch?.client.close());

  it('is not ready, answers 503 with Retry-After (never 404) and shows its lag until caught up', async () => {
    const health = new ComponentHealth();
    const registry = createMetricsRegistry();
    // The view's batches wait until `release`: the view surely has not read the topic yet when
    // the first request comes (as right after a restart, only for longer).
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const view = await startStatusView({
      kafka: holdingBatches(kafka, held),
      topic,
      logger: quietLogger(),
      supervision: { health, metrics: registry },
    });
    const server = await startApiServer({
      port: 0,
      logger: quietLogger(),
      clickhouse: ch.client,
      financeSql: openFinanceSql({ dataDir: ch.dataDir }),
      statuses: view,
      facts: new AccountFactsReader(ch.client, new AccountHistory()),
      tokens: new TokenStore(ch.client),
      webhookSecrets: testWebhookSecrets(ch.client),
      providers: ['groq'],
      publishSettings: async () => undefined,
    });
    const router = (await createToken(ch.client, { kind: 'router' })).token;
    const ask = () =>
      fetch(`http://127.0.0.1:${server.port}/v1/accounts/late/status`, {
        headers: { authorization: `Bearer ${router}` },
      });
    try {
      const before = await ask();
      expect(before.status).toBe(503);
      expect(before.headers.get('retry-after')).toBe('5');
      expect(view.caughtUp).toBe(false);
      expect(health.problems().map(([name]) => name)).toContain('account status view');
      expect(
        await registry.getSingleMetricAsString('nanobill_api_status_view_lag_messages'),
      ).toContain('nanobill_api_status_view_lag_messages 3001');
      release();
      await view.ready;
      const response = await ask();
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ accountId: 'late', status: 'blocked' });
      expect(health.problems()).toEqual([]);
      expect(view.lag).toBe(0);
      expect(
        await registry.getSingleMetricAsString('nanobill_api_status_view_lag_messages'),
      ).toContain('nanobill_api_status_view_lag_messages 0');
    } finally {
      release();
      await server.close();
      await view.stop();
    }
  });
});
