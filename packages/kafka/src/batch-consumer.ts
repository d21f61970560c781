import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '@nanobill/observability';

export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  heartbeat(): Promise<void>;
}

export interface BatchConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  logger: Logger;
  /** Makes the batch's work durable; offsets are committed only after it resolves. */
  handle(batch: PartitionBatch): Promise<void>;
  /** Called after each commit with the partition's remaining lag (messages). */
  onCommitted?(partition: number, lag: number): void;
  partitionsConsumedConcurrently?: number;
  maxBytesPerPartition?: number;
  /** How long a silent member keeps its partitions; a crashed one delays its successor this long. */
  sessionTimeoutMs?: number;
}

export interface RunningConsumer {
  stop(): Promise<void>;
}

/**
 * At-least-once consumption: a partition's batch is handed over whole, and its offsets are
 * committed only once `handle` has made the work durable. A crash before the commit redelivers
 * the batch, so `handle` must be idempotent. Batches of different partitions are handled
 * concurrently, which lets the handler group them into larger writes.
 */
export async function startBatchConsumer(options: BatchConsumerOptions): Promise<RunningConsumer> {
  const { kafka, groupId, topic, logger, handle, onCommitted } = options;
  const consumer: Consumer = kafka.consumer({
    groupId,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 4 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
    maxWaitTimeInMs: 250,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: 3_000,
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) =>
    logger.info({ groupId, assignment: payload.memberAssignment }, 'partitions assigned'),
  );
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 6,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      if (batch.messages.length === 0 || !isRunning() || isStale()) return;
      await handle({
        topic: batch.topic,
        partition: batch.partition,
        messages: batch.messages,
        heartbeat,
      });
      // A rebalance during the handler: another member owns the partition now and will redeliver.
      if (isStale()) return;
      const last = batch.lastOffset();
      resolveOffset(last);
      const next = (BigInt(last) + 1n).toString();
      await consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: next },
      ]);
      onCommitted?.(
        batch.partition,
        Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(next))),
      );
      await heartbeat();
    },
  });
  logger.info({ groupId, topic }, 'consumer started');
  return {
    async stop() {
      // kafkajs waits for the batches in flight to finish before it leaves the group.
      await consumer.disconnect();
      logger.info({ groupId, topic }, 'consumer stopped');
    },
  };
}
