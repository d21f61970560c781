import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics, LEASE_TOPIC } from '@nanobill/kafka';
import { Counter, createMetricsRegistry } from '@nanobill/observability';
import { quietLogger, testKafka, waitFor } from '@nanobill/testkit';
import { startSingleton } from '../src/singleton.js';

describe('startSingleton (real broker)', () => {
  const kafka = testKafka();
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  it('a start that fails is retried with its metrics registered afresh; stop stops the service', async () => {
    await ensureTopics(kafka, [{ topic: LEASE_TOPIC, numPartitions: 1 }]);
    const registry = createMetricsRegistry();
    let attempts = 0;
    let stopped = 0;
    const singleton = await startSingleton({
      // A name of its own: other test files may hold the real services' leases.
      name: `it-singleton-${process.pid}-${Date.now()}`,
      kafka,
      logger: quietLogger(),
      registry,
      retryStartMs: 50,
      start: async () => {
        attempts++;
        // Registering twice would throw: the failed attempts' metrics must be gone.
        new Counter({ name: 'nanobill_it_singleton_total', help: 'test', registers: [registry] });
        if (attempts < 3) throw new Error(`ClickHouse not reachable (attempt ${attempts})`);
        return { stop: async () => void stopped++ };
      },
    });
    stops.push(() => singleton.stop());
    await waitFor('the third attempt to start the service', async () =>
      attempts === 3 ? true : undefined,
    );
    expect(registry.getSingleMetric('nanobill_it_singleton_total')).toBeDefined();
    await singleton.stop();
    expect(stopped).toBe(1);
    expect(registry.getSingleMetric('nanobill_it_singleton_total')).toBeUndefined();
  });
});
