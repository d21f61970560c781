import type { IHeaders, Kafka, Producer, TopicMessages } from 'kafkajs';
import { createProducer } from './client.js';

/**
 * What a publisher needs of a schema: zod's `safeParse` (any zod schema fits), so that this
 * package depends on the shape of validation, not on a validation library.
 */
export interface MessageSchema<T> {
  safeParse(value: unknown):
    | { success: true; data: T }
    | {
        success: false;
        error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> };
      };
}

/** One topic of the contract: its name, the schema of its messages and how they are keyed. */
export interface TopicDefinition<T> {
  topic: string;
  schema: MessageSchema<T>;
  key(message: T): string;
  /** Headers of a message, if its topic carries any. */
  headers?(message: T): IHeaders;
}

/** `definition` with its type checked, e.g. `defineTopic({ topic, schema: Alert, key: ... })`. */
export function defineTopic<T>(definition: TopicDefinition<T>): TopicDefinition<T> {
  return definition;
}

/** The same definition on another topic name (tests and overrides use topics of their own). */
export function onTopic<T>(definition: TopicDefinition<T>, topic: string): TopicDefinition<T> {
  return { ...definition, topic };
}

/**
 * The most one request carries. A request that the broker refuses as too large
 * (`message.max.bytes`, 1 MiB by default, per partition) is refused again at every retry: at a
 * month turn, every account's status in one send stopped enforcement past ~7,000 accounts
 * (issue 13). A quarter of that limit per request leaves room for Kafka's own framing and for
 * every message landing on one partition; a message between the two limits travels alone. A
 * message over `maxMessageBytes` could never be sent: it is refused before anything leaves.
 */
export const PUBLISH_LIMITS = {
  maxMessages: 1_000,
  maxBytes: 256 * 1024,
  maxMessageBytes: 1024 * 1024 - 1024,
} as const;

export type PublishLimits = { maxMessages: number; maxBytes: number; maxMessageBytes: number };

/** Bytes a message adds to a record batch besides its key, value and headers (a generous bound). */
export const RECORD_OVERHEAD_BYTES = 64;

/**
 * A message ready to leave: validated and serialized by `outgoing`, or bytes passed on untouched
 * (a dead-letter copy). `value` null is a tombstone.
 */
export interface Outgoing {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: IHeaders;
}

/** A message its topic's schema refuses, or that cannot be serialized or sent whole. */
export class InvalidMessageError extends Error {
  constructor(
    readonly topic: string,
    readonly key: string | undefined,
    problem: string,
  ) {
    super(`${topic}: message${key === undefined ? '' : ` ${JSON.stringify(key)}`} ${problem}`);
    this.name = 'InvalidMessageError';
  }
}

/**
 * A send that failed part way: the first `sent` messages (in the order given) were acknowledged,
 * the rest may not have been. `cause` is the client's error.
 */
export class PartlyPublishedError extends Error {
  constructor(
    readonly sent: number,
    readonly total: number,
    cause: unknown,
  ) {
    super(`published ${sent} of ${total} messages: ${describe(cause)}`, { cause });
    this.name = 'PartlyPublishedError';
  }
}

/** Validates `message` against its topic's schema and serializes what the schema accepted. */
export function outgoing<T>(definition: TopicDefinition<T>, message: T): Outgoing {
  const { topic } = definition;
  const parsed = definition.schema.safeParse(message);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.map(String).join('.') || '(the message)'}: ${issue.message}`,
    );
    throw new InvalidMessageError(topic, undefined, `is invalid: ${problems.join('; ')}`);
  }
  let key: string;
  try {
    key = definition.key(parsed.data);
  } catch (error) {
    throw new InvalidMessageError(topic, undefined, `has no key: ${describe(error)}`);
  }
  let value: string;
  try {
    // Amounts in the contract are decimal strings: plain JSON (a bigint would throw here).
    value = JSON.stringify(parsed.data);
  } catch (error) {
    throw new InvalidMessageError(topic, key, `cannot be serialized: ${describe(error)}`);
  }
  const headers = definition.headers?.(parsed.data);
  return { topic, key, value, ...(headers === undefined ? {} : { headers }) };
}

/** What publishing needs of a producer (a connected kafkajs producer; a fake in unit tests). */
export type BatchSender = Pick<Producer, 'sendBatch'>;

/** A tombstone for `key` on a compacted topic: the key has no value any more. */
export function tombstone(topic: string, key: string): Outgoing {
  return { topic, key, value: null };
}

/** The bytes a message takes in a request (an upper bound). */
export function outgoingBytes(message: Outgoing): number {
  let bytes = RECORD_OVERHEAD_BYTES;
  if (message.key !== null) bytes += Buffer.byteLength(message.key);
  if (message.value !== null) bytes += Buffer.byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    bytes += Buffer.byteLength(name);
    for (const v of [value ?? []].flat())
      bytes += typeof v === 'string' ? Buffer.byteLength(v) : v.length;
  }
  return bytes;
}

/**
 * Splits `items` in order into chunks of at most `maxMessages` items and `maxBytes` bytes (by
 * `bytes`); an item larger than `maxBytes` alone gets a chunk of its own.
 */
export function chunked<T>(
  items: readonly T[],
  bytes: (item: T) => number,
  limits: Pick<PublishLimits, 'maxMessages' | 'maxBytes'> = PUBLISH_LIMITS,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const n = bytes(item);
    if (
      current.length > 0 &&
      (current.length >= limits.maxMessages || size + n > limits.maxBytes)
    ) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The chunk's messages grouped by topic, each topic's in the chunk's order. */
export function byTopic(chunk: readonly Outgoing[]): TopicMessages[] {
  const topics = new Map<string, TopicMessages['messages']>();
  for (const { topic, key, value, headers } of chunk) {
    let messages = topics.get(topic);
    if (messages === undefined) topics.set(topic, (messages = []));
    messages.push({ key, value, ...(headers === undefined ? {} : { headers }) });
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * Sends prepared messages (one topic or several) in order, one bounded request at a time, each
 * acknowledged by every in-sync replica (acks -1). Checked whole before anything leaves: a message
 * over `maxMessageBytes` is an `InvalidMessageError` and nothing is sent. A failed request is a
 * `PartlyPublishedError` saying how many messages were acknowledged before it.
 */
export async function publishOutgoing(
  producer: BatchSender,
  messages: readonly Outgoing[],
  limits: PublishLimits = PUBLISH_LIMITS,
): Promise<void> {
  for (const m of messages) {
    const oversized = tooLarge(m, limits);
    if (oversized) throw oversized;
  }
  let sent = 0;
  for (const chunk of chunked(messages, outgoingBytes, limits)) {
    try {
      await producer.sendBatch({ acks: -1, topicMessages: byTopic(chunk) });
    } catch (error) {
      throw new PartlyPublishedError(sent, messages.length, error);
    }
    sent += chunk.length;
  }
}

/** The error of a message larger than one request may carry, if it is. */
function tooLarge(message: Outgoing, limits: PublishLimits): InvalidMessageError | undefined {
  const bytes = outgoingBytes(message);
  return bytes > limits.maxMessageBytes
    ? new InvalidMessageError(
        message.topic,
        message.key?.toString(),
        `is ${bytes} bytes, over the ${limits.maxMessageBytes} one message may take`,
      )
    : undefined;
}

/** Publishes one topic's messages, typed by its definition. */
export interface Publisher<T> {
  readonly topic: string;
  /**
   * Validates and serializes every message first (an invalid one throws, nothing sent), then
   * sends them in order, in bounded requests, acks from every in-sync replica.
   */
  publish(messages: readonly T[]): Promise<void>;
  /**
   * For streams where one bad message must not hold back the others: sends every valid message
   * (in order, as `publish`) and hands back, with its reason, each one it refused (schema, key,
   * serialization, size). A failed request still throws (`PartlyPublishedError`).
   */
  publishEach(messages: readonly T[]): Promise<InvalidMessageError[]>;
}

/** A publisher of `definition`'s topic through `producer` (connected and owned by the caller). */
export function topicPublisher<T>(
  producer: BatchSender,
  definition: TopicDefinition<T>,
  limits: PublishLimits = PUBLISH_LIMITS,
): Publisher<T> {
  return {
    topic: definition.topic,
    publish: async (messages) =>
      publishOutgoing(
        producer,
        messages.map((m) => outgoing(definition, m)),
        limits,
      ),
    publishEach: async (messages) => {
      const valid: Outgoing[] = [];
      const refused: InvalidMessageError[] = [];
      for (const message of messages) {
        try {
          const prepared = outgoing(definition, message);
          const oversized = tooLarge(prepared, limits);
          if (oversized) throw oversized;
          valid.push(prepared);
        } catch (error) {
          if (!(error instanceof InvalidMessageError)) throw error;
          refused.push(error);
        }
      }
      await publishOutgoing(producer, valid, limits);
      return refused;
    },
  };
}

/**
 * Publishes `messages` through a producer of their own, connected for this call only: for rare
 * sends (an operations alert, a simulator's account snapshots), not for a service's stream.
 */
export async function publishOnce<T>(
  kafka: Kafka,
  definition: TopicDefinition<T>,
  messages: readonly T[],
): Promise<void> {
  const prepared = messages.map((m) => outgoing(definition, m));
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    await publishOutgoing(producer, prepared);
  } finally {
    await producer.disconnect();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
