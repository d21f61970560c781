import type { Kafka } from '@nanobill/kafka';
import { createProducer } from '@nanobill/kafka';

/**
 * A barrier on `topic`: one message on each of its partitions, sent after whatever the test wants
 * to see ignored (a duplicate, a re-sent alert). Kafka keeps order within a partition, so once
 * the consumer has handled every barrier message it has handled everything sent before them:
 * the test then asserts that "nothing more happened" without sleeping for it.
 * `message(partition)` builds the message for one partition; returns what was sent, in
 * partition order, for the test to wait on.
 */
export async function sendBarrier<M extends { key?: string; value: string | Buffer }>(
  kafka: Kafka,
  topic: string,
  message: (partition: number) => M,
): Promise<M[]> {
  const admin = kafka.admin();
  await admin.connect();
  let partitions: number[];
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    partitions = topics[0]!.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
  } finally {
    await admin.disconnect();
  }
  const barrier = partitions.map(message);
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: barrier.map((m, i) => ({ ...m, partition: partitions[i]! })),
    });
  } finally {
    await producer.disconnect();
  }
  return barrier;
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
