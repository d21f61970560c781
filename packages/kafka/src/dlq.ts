import type { KafkaMessage } from 'kafkajs';
import { publishOutgoing, type BatchSender } from './publisher.js';
import type { Decoded } from '@nanobill/contract';

export interface Rejection {
  message: KafkaMessage;
  /** A stable code from the service's rejection registry, e.g. `schema_violation`. */
  code: string;
  /** What is wrong, precise enough to fix the producer. */
  reason: string;
}

/**
 * Decodes a batch: the valid values with their messages, and the rejections for the DLQ. The
 * decoder gets the whole message too (e.g. its Kafka timestamp).
 */
export function splitValid<T>(
  messages: KafkaMessage[],
  decode: (bytes: Buffer | null, message: KafkaMessage) => Decoded<T>,
): { valid: Array<{ value: T; message: KafkaMessage }>; rejections: Rejection[] } {
  const valid: Array<{ value: T; message: KafkaMessage }> = [];
  const rejections: Rejection[] = [];
  for (const message of messages) {
    const decoded = decode(message.value, message);
    if (decoded.ok) valid.push({ value: decoded.value, message });
    else rejections.push({ message, code: decoded.code, reason: decoded.reason });
  }
  return { valid, rejections };
}

/**
 * Valid messages whose rows the store refused (their values, e.g. a constraint): rejections
 * `storage_refused` with the store's reason, for the DLQ, so that the partition goes on; a replay
 * once the table accepts them stores them. `refusal(i)` is the reason for `valid[i]`'s row, or
 * undefined when it was stored.
 */
export function storageRefusals(
  table: string,
  valid: ReadonlyArray<{ message: KafkaMessage }>,
  refusal: (index: number) => string | undefined,
): Rejection[] {
  return valid.flatMap(({ message }, i) => {
    const reason = refusal(i);
    return reason === undefined
      ? []
      : [{ message, code: 'storage_refused', reason: `${table} refused the row: ${reason}` }];
  });
}

export const DLQ_HEADERS = {
  code: 'nanobill-code',
  reason: 'nanobill-reason',
  sourceTopic: 'nanobill-source-topic',
  sourcePartition: 'nanobill-source-partition',
  sourceOffset: 'nanobill-source-offset',
  rejectedAt: 'nanobill-rejected-at',
} as const;

/**
 * Sends rejected messages to a dead-letter topic with their original key and bytes untouched, so
 * they can be replayed after a fix; why and where from travel in headers. In bounded requests:
 * a whole consumed batch rejected may be more than one request may carry.
 */
export async function sendToDlq(
  producer: BatchSender,
  dlqTopic: string,
  source: { topic: string; partition: number },
  rejections: Rejection[],
  now = new Date(),
): Promise<void> {
  // No schema here: what was rejected is passed on as it came, for a replay after a fix.
  await publishOutgoing(
    producer,
    rejections.map(({ message, code, reason }) => ({
      topic: dlqTopic,
      key: message.key,
      value: message.value,
      headers: {
        ...message.headers,
        [DLQ_HEADERS.code]: code,
        [DLQ_HEADERS.reason]: reason,
        [DLQ_HEADERS.sourceTopic]: source.topic,
        [DLQ_HEADERS.sourcePartition]: String(source.partition),
        [DLQ_HEADERS.sourceOffset]: message.offset,
        [DLQ_HEADERS.rejectedAt]: now.toISOString(),
      },
    })),
  );
}
