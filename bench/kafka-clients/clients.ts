// The three Kafka clients under comparison behind one small interface, each configured alike:
// acks=all (optionally idempotent), no compression, Java-compatible murmur2 partitioning of the
// key, and the consumer settings of @nanobill/kafka's batch consumer (fetch wait 250 ms, 4 MiB a
// partition, 64 MiB a fetch, session 30 s, heartbeat 3 s).
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import {
  Consumer as PlatformaticConsumer,
  Producer as PlatformaticProducer,
  ProduceAcks,
  compatibilityPartitioner,
  type ConsumerGroupJoinPayload,
} from '@platformatic/kafka';
import type * as Confluent from '@confluentinc/kafka-javascript';
import { FastDefaultPartitioner } from '@nanobill/router-simulator';
import type { ClientName } from './shared.js';

// The confluent client is CommonJS with a native addon; its KafkaJS-compatible API is the one a
// switch would use (packages/kafka is written against kafkajs).
const confluent = createRequire(import.meta.url)(
  '@confluentinc/kafka-javascript',
) as typeof Confluent;

export interface KeyedMessage {
  key: Buffer;
  value: Buffer;
}

export interface ProducerUnderTest {
  /** Resolves once the broker acknowledged every message (acks=all). */
  send(topic: string, messages: KeyedMessage[]): Promise<void>;
  close(): Promise<void>;
}

/** A fetched run of consecutive offsets of one partition. */
export interface Delivery {
  partition: number;
  firstOffset: number;
  count: number;
  bytes: number;
}

export interface ConsumerOptions {
  topic: string;
  groupId: string;
  /** Commit the consumed position every this many ms (the client's own auto-commit). */
  autoCommitMs?: number;
  /** Called when the group gives this member its partitions (each time it does). */
  onAssigned(partitions: number[]): void;
  /** Called when this member gives its partitions back in a rebalance (each time it does). */
  onRevoked?(): void;
  /** Called for each delivery; the client waits for it (this is where pacing sleeps). */
  onDelivery(delivery: Delivery): Promise<void> | void;
}

export interface ConsumerUnderTest {
  /** Leaves the group (committing what auto-commit holds) and disconnects. */
  close(): Promise<void>;
}

/** Same as @nanobill/kafka's batch consumer. */
const FETCH = {
  maxWaitMs: 250,
  maxBytesPerPartition: 4 * 1024 * 1024,
  maxBytes: 64 * 1024 * 1024,
  sessionTimeoutMs: 30_000,
  heartbeatMs: 3_000,
};
/** kafkajs's and confluent's eachBatch run this many partitions at once (the repo's default). */
const PARTITIONS_CONCURRENTLY = 6;
/**
 * Most messages in one confluent eachBatch call (its default is 32, built client-side). 1,000 is
 * in the range kafkajs hands over for these ~700-byte events on a loaded topic.
 */
const CONFLUENT_MAX_BATCH = 1_000;

/** A kafkajs-shaped batch (kafkajs and confluent's KafkaJS API) as one delivery. */
async function deliver(
  batch: { partition: number; messages: { offset: string; value: Buffer | null }[] },
  onDelivery: ConsumerOptions['onDelivery'],
) {
  const messages = batch.messages;
  if (messages.length === 0) return;
  await onDelivery({
    partition: batch.partition,
    firstOffset: Number(messages[0]!.offset),
    count: messages.length,
    bytes: messages.reduce((sum, m) => sum + (m.value?.length ?? 0), 0),
  });
}

export async function openProducer(
  client: ClientName,
  brokers: string[],
  idempotent: boolean,
): Promise<ProducerUnderTest> {
  if (client === 'kafkajs') {
    const kafka = new kafkajs.Kafka({
      brokers,
      clientId: 'bench-kafkajs',
      logLevel: kafkajs.logLevel.WARN,
    });
    const producer = kafka.producer({
      createPartitioner: FastDefaultPartitioner,
      allowAutoTopicCreation: false,
      // kafkajs refuses more than one request in flight per broker when idempotent.
      ...(idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {}),
    });
    await producer.connect();
    return {
      send: async (topic, messages) => {
        await producer.send({ topic, messages, acks: -1 });
      },
      close: () => producer.disconnect(),
    };
  }
  if (client === 'platformatic') {
    // Idempotent sets maxInflights to 1 inside the client, as kafkajs does.
    const producer = new PlatformaticProducer({
      clientId: 'bench-platformatic',
      bootstrapBrokers: brokers,
      acks: ProduceAcks.ALL,
      idempotent,
      partitioner: compatibilityPartitioner,
      autocreateTopics: false,
    });
    return {
      send: async (topic, messages) => {
        await producer.send({
          messages: messages.map(({ key, value }) => ({ topic, key, value })),
        });
      },
      close: () => producer.close(),
    };
  }
  const kafka = new confluent.KafkaJS.Kafka({
    kafkaJS: { brokers, clientId: 'bench-confluent', logLevel: confluent.KafkaJS.logLevel.WARN },
  });
  // librdkafka batches on its own (linger.ms 5 by default); idempotence allows 5 in flight.
  const producer = kafka.producer({
    kafkaJS: { acks: -1, idempotent, allowAutoTopicCreation: false },
    partitioner: 'murmur2_random',
  });
  await producer.connect();
  return {
    send: async (topic, messages) => {
      await producer.send({ topic, messages });
    },
    close: () => producer.disconnect(),
  };
}

export async function openConsumer(
  client: ClientName,
  brokers: string[],
  options: ConsumerOptions,
): Promise<ConsumerUnderTest> {
  const { topic, groupId, autoCommitMs, onDelivery, onAssigned, onRevoked } = options;
  const autoCommit = autoCommitMs !== undefined;
  if (client === 'kafkajs') {
    const kafka = new kafkajs.Kafka({
      brokers,
      clientId: 'bench-kafkajs',
      logLevel: kafkajs.logLevel.WARN,
    });
    const consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs: FETCH.maxWaitMs,
      maxBytesPerPartition: FETCH.maxBytesPerPartition,
      maxBytes: FETCH.maxBytes,
      sessionTimeout: FETCH.sessionTimeoutMs,
      heartbeatInterval: FETCH.heartbeatMs,
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) =>
      onAssigned(payload.memberAssignment[topic] ?? []),
    );
    // kafkajs revokes everything at each (eager) rebalance; it announces none before rejoining.
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit,
      ...(autoCommit ? { autoCommitInterval: autoCommitMs } : {}),
      partitionsConsumedConcurrently: PARTITIONS_CONCURRENTLY,
      eachBatch: ({ batch }) => deliver(batch, onDelivery),
    });
    return { close: () => consumer.disconnect() };
  }
  if (client === 'platformatic') {
    const consumer = new PlatformaticConsumer({
      clientId: 'bench-platformatic',
      bootstrapBrokers: brokers,
      groupId,
      sessionTimeout: FETCH.sessionTimeoutMs,
      heartbeatInterval: FETCH.heartbeatMs,
      maxWaitTime: FETCH.maxWaitMs,
      maxBytes: FETCH.maxBytes,
      maxBytesPerPartition: FETCH.maxBytesPerPartition,
    });
    consumer.on('consumer:group:join', ({ assignments }: ConsumerGroupJoinPayload) =>
      onAssigned(assignments?.find((a) => a.topic === topic)?.partitions ?? []),
    );
    consumer.on('consumer:group:rebalance', () => onRevoked?.());
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: autoCommit ? autoCommitMs : false,
    });
    // The stream hands over one message at a time; consecutive messages of a partition are
    // grouped into one delivery here (flushed when the partition changes or the stream pauses).
    let pending: Delivery | undefined;
    const flush = async () => {
      if (pending === undefined) return;
      const delivery = pending;
      pending = undefined;
      await onDelivery(delivery);
    };
    const loop = (async () => {
      for await (const message of stream) {
        const offset = Number(message.offset);
        if (
          pending !== undefined &&
          pending.partition === message.partition &&
          pending.firstOffset + pending.count === offset
        ) {
          pending.count += 1;
          pending.bytes += message.value.length;
        } else {
          await flush();
          pending = {
            partition: message.partition,
            firstOffset: offset,
            count: 1,
            bytes: message.value.length,
          };
        }
        if (stream.readableLength === 0) await flush();
      }
      await flush();
    })();
    return {
      close: async () => {
        await stream.close();
        await loop;
        await consumer.close(true);
      },
    };
  }
  const kafka = new confluent.KafkaJS.Kafka({
    kafkaJS: { brokers, clientId: 'bench-confluent', logLevel: confluent.KafkaJS.logLevel.WARN },
  });
  const consumer = kafka.consumer({
    kafkaJS: {
      groupId,
      fromBeginning: true,
      autoCommit,
      ...(autoCommit ? { autoCommitInterval: autoCommitMs } : {}),
      maxWaitTimeInMs: FETCH.maxWaitMs,
      maxBytesPerPartition: FETCH.maxBytesPerPartition,
      maxBytes: FETCH.maxBytes,
      sessionTimeout: FETCH.sessionTimeoutMs,
      heartbeatInterval: FETCH.heartbeatMs,
    },
    'js.consumer.max.batch.size': CONFLUENT_MAX_BATCH,
    // Observes the rebalance; the KafkaJS layer then applies the assignment as usual.
    rebalance_cb: (error: { code: number }, assignment: { partition: number }[]) => {
      if (error.code === confluent.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
        onAssigned(assignment.map((p) => p.partition));
      } else if (error.code === confluent.CODES.ERRORS.ERR__REVOKE_PARTITIONS) onRevoked?.();
    },
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  await consumer.run({
    partitionsConsumedConcurrently: PARTITIONS_CONCURRENTLY,
    eachBatch: ({ batch }) => deliver(batch, onDelivery),
  });
  return { close: () => consumer.disconnect() };
}
