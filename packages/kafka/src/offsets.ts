import type { Admin, Kafka } from 'kafkajs';

/** A partition's offsets: `low` the first still held, `high` the next to be written. */
export interface PartitionOffsets {
  partition: number;
  low: bigint;
  high: bigint;
}

/** What a service may ask of the brokers about offsets, through one admin connection. */
export interface Offsets {
  /** Every partition of `topic` with its first and next offsets, as of now. */
  topicEnds(topic: string): Promise<PartitionOffsets[]>;
  /** The offsets `groupId` has committed on `topic`'s partitions (-1: none yet). */
  committed(groupId: string, topic: string): Promise<Map<number, bigint>>;
}

/**
 * Runs `read` with an admin connection of its own, closed after (whatever `read` does). The
 * services ask about offsets through this, never through a Kafka admin of theirs: the Kafka
 * client stays behind this package.
 */
export async function readOffsets<T>(
  kafka: Kafka,
  read: (offsets: Offsets) => Promise<T>,
): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await read(offsetsOf(admin));
  } finally {
    await admin.disconnect();
  }
}

function offsetsOf(admin: Admin): Offsets {
  return {
    async topicEnds(topic) {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.map((o) => ({
        partition: o.partition,
        low: BigInt(o.low),
        high: BigInt(o.high),
      }));
    },
    async committed(groupId, topic) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map(
        (committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)] as const),
      );
    },
  };
}
