import { afterAll, describe, expect, it } from 'vitest';
import { createProducer, startBatchConsumer, type PartitionBatch } from '../src/index.js';
import { quietLogger, testKafka, testTopics, uniqueName, waitFor } from '@nanobill/testkit';

describe('startBatchConsumer (real broker)', () => {
  const kafka = testKafka();
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  it('a batch failing while an earlier one is still being stored: no crash, redelivered, committed once stored', async () => {
    const { requests: topic } = await testTopics(kafka, 1);
    const producer = createProducer(kafka);
    await producer.connect();
    stops.push(() => producer.disconnect());
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    stops.push(async () => void process.off('unhandledRejection', onUnhandled));

    const seen: string[] = [];
    let releaseFirst!: () => void;
    const firstStored = new Promise<void>((resolve) => (releaseFirst = resolve));
    let failedOnce = false;
    const stored: string[] = [];
    const consumer = await startBatchConsumer({
      kafka,
      groupId: uniqueName('it-batch-consumer'),
      topic,
      logger: quietLogger(),
      sessionTimeoutMs: 6_000,
      handle: async (batch: PartitionBatch) => {
        const values = batch.messages.map((m) => m.value!.toString());
        seen.push(...values);
        if (values.includes('a')) {
          await firstStored; // the first batch is slow to store…
        } else if (!failedOnce) {
          failedOnce = true; // …while the next one fails at once (ClickHouse gone)
          throw new Error('socket hang up');
        }
        stored.push(...values);
      },
    });
    stops.push(() => consumer.stop());

    await producer.send({ topic, messages: [{ value: 'a' }] });
    await waitFor('the first batch handed over', async () =>
      seen.includes('a') ? true : undefined,
    );
    await producer.send({ topic, messages: [{ value: 'b' }] });
    await waitFor('the second batch handed over', async () =>
      seen.includes('b') ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    releaseFirst();

    await waitFor('b stored after its redelivery', async () =>
      stored.includes('b') ? true : undefined,
    );
    expect(unhandled).toEqual([]);
    expect(failedOnce).toBe(true);
    expect(stored.filter((v) => v === 'a').length).toBeGreaterThanOrEqual(1);
    // Committed only up to what is stored: the failed batch came again.
    expect(seen.filter((v) => v === 'b').length).toBeGreaterThanOrEqual(2);
  });
});
