import type { Kafka } from '@nanobill/kafka';

/** The partition ids of `topic`, in order. */
export async function partitionsOf(kafka: Kafka, topic: string): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]!.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The consumer group as the broker sees it: its state (`Stable`, `PreparingRebalance`, …) and
 * how many members it has. A test waits for a state instead of sleeping through a rebalance.
 */
export async function groupState(
  kafka: Kafka,
  groupId: string,
): Promise<{ state: string; members: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0]!;
    return { state: group.state, members: group.members.length };
  } finally {
    await admin.disconnect();
  }
}
