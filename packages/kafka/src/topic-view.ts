import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Logger } from '@nanobill/observability';

export interface TopicViewOptions {
  kafka: Kafka;
  topic: string;
  logger: Logger;
  /** Every record in offset order per partition; `value` null for a tombstone. */
  onRecord(key: string, value: Buffer | null): void;
}

export interface TopicView {
  /** Resolves once every record that was on the topic when the view started has been seen. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * A table view of a compacted topic (latest value per key): reads it from the beginning and
 * keeps following it. A group of its own per view, nothing committed: every start rereads the
 * topic, which compaction keeps at one record per key.
 */
export async function startTopicView(options: TopicViewOptions): Promise<TopicView> {
  const { kafka, topic, logger, onRecord } = options;
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(
      offsets
        .filter((o) => BigInt(o.high) > BigInt(o.low))
        .map((o) => [o.partition, BigInt(o.high)]),
    );
  } finally {
    await admin.disconnect();
  }
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const caughtUp = (partition: number, nextOffset: bigint) => {
    const end = ends.get(partition);
    if (end !== undefined && nextOffset >= end) ends.delete(partition);
    if (ends.size === 0) markReady();
  };
  caughtUp(-1, 0n);

  const consumer = kafka.consumer({
    groupId: `nanobill-view-${topic}-${randomUUID()}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        if (message.key === null) continue;
        onRecord(message.key.toString(), message.value);
      }
      // Compaction leaves gaps: the partition's high watermark, not the last key, says "all".
      const last = batch.messages.at(-1);
      const next = last === undefined ? BigInt(batch.highWatermark) : BigInt(last.offset) + 1n;
      caughtUp(batch.partition, next);
    },
  });
  logger.debug({ topic }, 'topic view started');
  return {
    ready,
    async stop() {
      await consumer.disconnect();
    },
  };
}
