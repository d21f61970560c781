// Helpers shared by the hostile ingest tests: raw messages with chosen bytes, partition and Kafka
// timestamp, and reads that wait for a consumer group's commit rather than for a duration.
import type { KafkaMessage } from 'kafkajs';
import { createProducer, DLQ_HEADERS, type Kafka } from '@nanobill/kafka';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { uniqueName, waitFor } from '@nanobill/testkit';

export const DAY_MS = 24 * 60 * 60 * 1000;
export const MINUTE_MS = 60 * 1000;

/** A valid event (default providers), stamped `at`; fields can be overridden or removed. */
export function eventAt(at: number, overrides: Record<string, unknown> = {}) {
  return {
    schemaVersion: 1,
    requestId: uniqueName('hostile'),
    timestamp: new Date(at).toISOString(),
    userId: 'user-hostile',
    provider: 'groq',
    model: 'openai/gpt-oss-120b',
    task: 'conversational',
    billingMode: 'routed',
    providerRequestId: uniqueName('groq'),
    status: 200,
    usage: { inputTokens: 12, outputTokens: 34 },
    ...overrides,
  };
}

export interface RawMessage {
  key: string;
  value: Buffer | string;
  /** Kafka timestamp (ms since the epoch); the producer's clock when absent. */
  timestamp?: number;
}

/** Sends messages in one produce call, to one partition, in order. */
export async function produceRaw(
  kafka: Kafka,
  topic: string,
  messages: RawMessage[],
  partition = 0,
): Promise<void> {
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map((m) => ({
        key: m.key,
        value: m.value,
        partition,
        ...(m.timestamp === undefined ? {} : { timestamp: String(m.timestamp) }),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** The end offset of a partition: the offset the next produced message gets. */
export async function endOffset(kafka: Kafka, topic: string, partition = 0): Promise<bigint> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return BigInt(offsets.find((o) => o.partition === partition)!.high);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until the group has committed `partition` past `offset`: the batch holding that offset
 * is durable (rows stored, DLQ messages acknowledged), so everything before it is too.
 */
export async function waitCommittedPast(
  kafka: Kafka,
  groupId: string,
  topic: string,
  offset: bigint,
  partition = 0,
  timeoutMs = 60_000,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      `${groupId} to commit ${topic}[${partition}] past offset ${offset}`,
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const at = committed?.partitions.find((p) => p.partition === partition)?.offset;
        return at !== undefined && BigInt(at) > offset ? true : undefined;
      },
      timeoutMs,
    );
  } finally {
    await admin.disconnect();
  }
}

/** Every message of a topic up to its current end offsets. */
export async function readAll(kafka: Kafka, topic: string): Promise<KafkaMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((sum, o) => sum + (Number(o.high) - Number(o.low)), 0);
  const messages: KafkaMessage[] = [];
  if (total === 0) return messages;
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void messages.push(message) });
  try {
    await waitFor(`${total} messages on ${topic}`, async () =>
      messages.length >= total ? true : undefined,
    );
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

export const header = (message: KafkaMessage, name: string) => message.headers?.[name]?.toString();

/** DLQ messages by their key: code and reason. */
export function dlqByKey(messages: KafkaMessage[]): Map<string, { code: string; reason: string }> {
  return new Map(
    messages.map((m) => [
      m.key!.toString(),
      {
        code: header(m, DLQ_HEADERS.code) ?? '',
        reason: header(m, DLQ_HEADERS.reason) ?? '',
      },
    ]),
  );
}

/** The request ids stored in billing.usage among `ids`. */
export async function storedIds(clickhouse: ClickHouseClient, ids: string[]): Promise<Set<string>> {
  const result = await clickhouse.query({
    query: 'SELECT request_id FROM billing.usage WHERE request_id IN {ids:Array(String)}',
    query_params: { ids },
    format: 'JSONCompactEachRow',
  });
  return new Set((await result.json<[string]>()).map(([id]) => id));
}
