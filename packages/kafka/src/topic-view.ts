import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Logger } from '@nanobill/observability';
import {
  connectAndSubscribe,
  reportTo,
  supervise,
  type Life,
  type Supervision,
} from './supervisor.js';

export interface TopicViewOptions {
  kafka: Kafka;
  topic: string;
  logger: Logger;
  /** Its name in `/readyz` and logs; default `topic view <topic>`. */
  name?: string;
  supervision?: Supervision;
  /** Every record in offset order per partition; `value` null for a tombstone. */
  onRecord(key: string, value: Buffer | null): void;
  /**
   * A restarted view reads the topic again from its beginning, older values of a key before
   * newer ones: called before it does, so that the caller can build a fresh table meanwhile.
   */
  onReread?(): void;
  /** Called each time the view has read what was on the topic when it (re)started. */
  onCaughtUp?(): void;
  /**
   * How many messages the view is behind the partitions' ends (as of its last fetch; compacted
   * gaps count until read past): at each (re)start, then after every batch.
   */
  onLag?(messages: number): void;
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
 *
 * Supervised: the view is not ready (in the process's `/readyz`) until it has caught up, and a
 * crash of its consumer (whether kafkajs would restart it or not: kafkajs would reread the topic
 * into the live table) ends it and starts a new one, which rereads the topic (`onReread`).
 */
export async function startTopicView(options: TopicViewOptions): Promise<TopicView> {
  const name = options.name ?? `topic view ${options.topic}`;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let incarnations = 0;
  const supervised = await supervise({
    component: name,
    group: `nanobill-view-${options.topic}`,
    logger: options.logger,
    supervision: options.supervision,
    start: (life) => {
      if (incarnations++ > 0) options.onReread?.();
      return startIncarnation(options, life, () => {
        markReady();
        options.onCaughtUp?.();
      });
    },
  });
  return { ready, stop: () => supervised.stop() };
}

async function startIncarnation(
  options: TopicViewOptions,
  life: Life,
  onCaughtUp: () => void,
): Promise<{ stop(): Promise<void> }> {
  const { kafka, topic, logger, onRecord } = options;
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  // Messages behind each partition's end: all of it at start, then as of each batch.
  const behind = new Map<number, bigint>();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(
      offsets
        .filter((o) => BigInt(o.high) > BigInt(o.low))
        .map((o) => [o.partition, BigInt(o.high)]),
    );
    for (const o of offsets) behind.set(o.partition, BigInt(o.high) - BigInt(o.low));
  } finally {
    await admin.disconnect();
  }
  const lag = () => Number([...behind.values()].reduce((sum, n) => sum + n, 0n));
  options.onLag?.(lag());
  let caughtUpOnce = false;
  const caughtUp = (partition: number, nextOffset: bigint) => {
    const end = ends.get(partition);
    if (end !== undefined && nextOffset >= end) ends.delete(partition);
    if (ends.size > 0 || caughtUpOnce) return;
    caughtUpOnce = true;
    onCaughtUp();
    life.running();
  };

  const consumer = kafka.consumer({
    groupId: `nanobill-view-${topic}-${randomUUID()}`,
    maxWaitTimeInMs: 100,
  });
  // Ready means caught up, not merely joined: `running` is reported by `caughtUp`.
  reportTo(
    consumer,
    { ...life, running: () => caughtUpOnce && life.running() },
    'every crash ends it',
  );
  await connectAndSubscribe(consumer, topic, true);
  life.notReady(`reading ${topic} (not caught up yet)`);
  caughtUp(-1, 0n); // nothing to read: caught up already
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
      const remaining = BigInt(batch.highWatermark) - next;
      behind.set(batch.partition, remaining > 0n ? remaining : 0n);
      options.onLag?.(lag());
      if (!caughtUpOnce)
        life.notReady(`reading ${topic} (not caught up yet: ${lag()} messages behind)`);
      caughtUp(batch.partition, next);
    },
  });
  logger.debug({ topic }, 'topic view started');
  return {
    async stop() {
      await consumer.disconnect();
    },
  };
}
