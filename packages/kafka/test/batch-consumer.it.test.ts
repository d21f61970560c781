import { afterAll, describe, expect, it } from 'vitest';
import { createProducer, startBatchConsumer, type PartitionBatch } from '../src/index.js';
import {
  groupState,
  quietLogger,
  sendBarrier,
  testKafka,
  testTopics,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';

describe('startBatchConsumer (real broker)', () => {
  const kafka = testKafka();
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });
  const producer = createProducer(kafka);
  stops.push(() => producer.disconnect());

  it('a failed batch on a quiet topic is fetched again and stored, nothing left unhandled', async () => {
    await producer.connect();
    const { requests: topic } = await testTopics(kafka, 1);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    stops.push(async () => void process.off('unhandledRejection', onUnhandled));

    const seen: string[] = [];
    const stored: string[] = [];
    let failedOnce = false;
    const consumer = await startBatchConsumer({
      kafka,
      groupId: uniqueName('it-batch-consumer'),
      topic,
      logger: quietLogger(),
      sessionTimeoutMs: 6_000,
      handle: async (batch: PartitionBatch) => {
        const values = batch.messages.map((m) => m.value!.toString());
        seen.push(...values);
        if (values.includes('b') && !failedOnce) {
          failedOnce = true; // ClickHouse gone for a moment
          throw new Error('socket hang up');
        }
        stored.push(...values);
      },
    });
    stops.push(() => consumer.stop());

    await producer.send({ topic, messages: [{ value: 'a' }] });
    await waitFor('a stored', async () => (stored.includes('a') ? true : undefined));
    // Nothing else is sent: only the consumer itself can bring b back.
    await producer.send({ topic, messages: [{ value: 'b' }] });
    await waitFor('b stored after its redelivery', async () =>
      stored.includes('b') ? true : undefined,
    );
    expect(failedOnce).toBe(true);
    expect(seen.filter((v) => v === 'b').length).toBeGreaterThanOrEqual(2);
    expect(stored.filter((v) => v === 'a')).toEqual(['a']);
    expect(unhandled).toEqual([]);
  });

  it('a member gives its partitions to a newcomer only once its batches are stored', async () => {
    const { requests: topic } = await testTopics(kafka, 2);
    const groupId = uniqueName('it-batch-consumer-handover');
    const handled: string[] = [];
    const newcomerHandledAt: number[] = [];
    let storedAt = Infinity;
    let release!: () => void;
    const slowStore = new Promise<void>((resolve) => (release = resolve));
    const start = (name: string, slow: boolean) => {
      let assigned: number[] | undefined;
      return {
        assigned: () => assigned,
        consumer: startBatchConsumer({
          kafka,
          groupId,
          topic,
          logger: quietLogger(),
          sessionTimeoutMs: 30_000,
          onAssigned: (partitions) => (assigned = partitions),
          handle: async (batch: PartitionBatch) => {
            handled.push(...batch.messages.map((m) => `${name}:${m.value!.toString()}`));
            if (!slow) newcomerHandledAt.push(Date.now());
            if (slow) {
              await slowStore; // a store that takes its time (a slow ClickHouse)
              storedAt = Math.min(storedAt, Date.now());
            }
          },
        }),
      };
    };
    const first = start('first', true);
    stops.push(async () => (await first.consumer).stop());
    await waitFor('the first member to own both partitions', async () =>
      first.assigned()?.length === 2 ? true : undefined,
    );
    await producer.send({
      topic,
      messages: [
        { value: 'p0', partition: 0 },
        { value: 'p1', partition: 1 },
      ],
    });
    await waitFor('both batches in the slow store', async () =>
      handled.length === 2 ? true : undefined,
    );

    // A newcomer joins while the stores are in flight: the rebalance waits for them.
    const second = start('second', false);
    stops.push(async () => (await second.consumer).stop());
    // The newcomer's join started a rebalance, which waits for the first member to rejoin,
    // and that member is still storing: no partition can have been handed over yet.
    await waitFor(
      'the rebalance to wait for the first member',
      async () =>
        (await groupState(kafka, groupId)).state === 'PreparingRebalance' ? true : undefined,
      30_000,
    );
    expect(second.assigned() ?? []).toEqual([]);
    release();
    await waitFor(
      'the newcomer to get a partition',
      async () => ((second.assigned()?.length ?? 0) > 0 ? true : undefined),
      60_000,
    );
    // A barrier on each partition: once both are handled, any redelivery of p0/p1 (it would
    // come before the barrier in its partition) has been handled too.
    await sendBarrier(kafka, topic, () => ({ value: 'barrier' }));
    await waitFor('both barriers handled', async () =>
      handled.filter((h) => h.endsWith(':barrier')).length >= 2 ? true : undefined,
    );
    // The newcomer may see those messages again (if the commit lost the race with the
    // rebalance), but only after they were stored: its duplicate check then finds them.
    const firstHandled = handled.filter((h) => h.startsWith('first:') && !h.endsWith(':barrier'));
    expect(firstHandled.sort()).toEqual(['first:p0', 'first:p1']);
    expect(newcomerHandledAt.length).toBeGreaterThan(0); // at least its partition's barrier
    for (const at of newcomerHandledAt) expect(at).toBeGreaterThanOrEqual(storedAt);
  });
});
