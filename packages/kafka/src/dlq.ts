import type { KafkaMessage } from 'kafkajs';
import {
  PUBLISH_LIMITS,
  outgoingBytes,
  publishOutgoing,
  type BatchSender,
  type Outgoing,
} from './publisher.js';
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
  /** Set when the rejected value (and key) could not travel: its size in bytes. */
  valueDropped: 'nanobill-value-dropped',
} as const;

/**
 * The most of a reason a dead letter carries: a reason lists every schema issue, and a hostile
 * message can have thousands (a 1 MB reason would make the dead letter itself unsendable).
 */
export const MAX_REASON_CHARS = 2_000;

/**
 * Sends rejected messages to a dead-letter topic with their original key and bytes untouched, so
 * they can be replayed after a fix; why and where from travel in headers. In bounded requests:
 * a whole consumed batch rejected may be more than one request may carry.
 *
 * A dead letter must always be sendable, or the partition that rejected it would retry forever:
 * the reason is capped (`MAX_REASON_CHARS`), and a message too large to travel with its headers
 * (a value near the broker's limit, rejected as oversized) goes without its value, and without its
 * key and own headers if still too large, with `nanobill-value-dropped` giving its size; the
 * source topic, partition and offset still say where the original is.
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
    rejections.map(({ message, code, reason }) =>
      sendable({
        topic: dlqTopic,
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          [DLQ_HEADERS.code]: code,
          [DLQ_HEADERS.reason]: capped(reason),
          [DLQ_HEADERS.sourceTopic]: source.topic,
          [DLQ_HEADERS.sourcePartition]: String(source.partition),
          [DLQ_HEADERS.sourceOffset]: message.offset,
          [DLQ_HEADERS.rejectedAt]: now.toISOString(),
        },
      }),
    ),
  );
}

function capped(reason: string): string {
  return reason.length <= MAX_REASON_CHARS
    ? reason
    : `${reason.slice(0, MAX_REASON_CHARS)}… (${reason.length - MAX_REASON_CHARS} more characters)`;
}

/** The dead letter, or what of it can travel (see `sendToDlq`). */
function sendable(letter: Outgoing): Outgoing {
  const fits = (m: Outgoing) => outgoingBytes(m) <= PUBLISH_LIMITS.maxMessageBytes;
  if (fits(letter)) return letter;
  const dropped = String(letter.value?.length ?? 0);
  const withoutValue = {
    ...letter,
    value: null,
    headers: { ...letter.headers, [DLQ_HEADERS.valueDropped]: dropped },
  };
  if (fits(withoutValue)) return withoutValue;
  const own = Object.entries(letter.headers ?? {}).filter(([name]) => DLQ_HEADER_VALUES.has(name));
  return {
    topic: letter.topic,
    key: null,
    value: null,
    headers: { ...Object.fromEntries(own), [DLQ_HEADERS.valueDropped]: dropped },
  };
}

const DLQ_HEADER_VALUES = new Set<string>(Object.values(DLQ_HEADERS));
