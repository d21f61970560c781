import {
  TOPICS,
  requestClassifier,
  DEFAULT_PROVIDERS,
  type Decoded,
  type EventWindow,
} from '@nanobill/contract';
import { describeRefusal, type ClickHouseClient } from '@nanobill/clickhouse';
import {
  createProducer,
  sendToDlq,
  splitValid,
  storageRefusals,
  startBatchConsumer,
  type Kafka,
  type PartitionBatch,
  type RunningConsumer,
  type Supervision,
} from '@nanobill/kafka';
import type { Logger, Registry } from '@nanobill/observability';
import { setImmediate } from 'node:timers/promises';
import { createIngestMetrics } from './metrics.js';
import { USAGE_TABLE } from '@nanobill/tables';
import { toUsageRow } from './usage-row.js';
import { createUsageWriter } from './usage-writer.js';

export interface IngestOptions {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  logger: Logger;
  metrics: Registry;
  topics?: { requests: string; dlq: string };
  groupId?: string;
  providers?: readonly string[];
  /** Accepted timestamps around each message's Kafka time; default 35 days back, 5 minutes ahead. */
  eventWindow?: EventWindow;
  maxRows?: number;
  maxWaitMs?: number;
  sessionTimeoutMs?: number;
  /** Members of the ingest group in this process; default `INGEST_CONSUMERS`. */
  consumers?: number;
  /** Where a consumer being restarted is reported (the process's `/readyz`), restart delays. */
  supervision?: Supervision;
}

export interface IngestService {
  stop(): Promise<void>;
}

export const INGEST_GROUP_ID = 'nanobill-ingest';

/**
 * Members of the ingest group in one process, each with partitions of its own, all feeding the
 * one writer. A member holds each batch until its rows are stored (what keeps a rebalance from
 * storing them twice), so a lone member fetches and parses nothing while a flush runs; with two,
 * one fetches and parses while the rows of the other are being stored.
 */
export const INGEST_CONSUMERS = 2;

/**
 * Consumes routed-request events; valid ones become `billing.usage` rows, invalid ones go to the
 * DLQ with their reason, and so do valid ones whose row ClickHouse refuses (`storage_refused`,
 * with ClickHouse's code and message). A partition's offsets are committed only after all of
 * them are acknowledged.
 */
export async function startIngest(options: IngestOptions): Promise<IngestService> {
  const logger = options.logger.child({ service: 'ingest' });
  const topics = options.topics ?? { requests: TOPICS.requests, dlq: TOPICS.requestsDlq };
  // Every valid event is stored, skipped or priced alike: ingest uses the classification's
  // verdict (rejected, with the code, or valid), the same one pricing and enforcement take.
  const classify = requestClassifier({
    providers: options.providers ?? DEFAULT_PROVIDERS,
    window: options.eventWindow,
  });
  const metrics = createIngestMetrics(options.metrics);
  const writer = createUsageWriter({
    clickhouse: options.clickhouse,
    logger,
    metrics,
    maxRows: options.maxRows ?? 20_000,
    maxWaitMs: options.maxWaitMs ?? 1_000,
  });
  const producer = createProducer(options.kafka);
  await producer.connect();

  async function handle(batch: PartitionBatch): Promise<void> {
    const source = { topic: batch.topic, partition: batch.partition };
    const { valid, rejections } = await decodeInSlices(batch.messages, classify);
    const rows = valid.map(({ value, message }) =>
      toUsageRow(value.event, { partition: batch.partition, offset: message.offset }),
    );
    metrics.eventsIn.inc(batch.messages.length);
    // The writer groups these rows with other partitions' into one insert; the DLQ send runs alongside.
    const [written] = await Promise.all([
      writer.write(rows),
      sendToDlq(producer, topics.dlq, source, rejections),
    ]);
    const refused = storageRefusals(USAGE_TABLE, valid, (i) => {
      const refusal = written.refused.get(rows[i]!);
      return refusal && describeRefusal(refusal);
    });
    await sendToDlq(producer, topics.dlq, source, refused);
    for (const r of [...rejections, ...refused]) metrics.rejected.inc({ code: r.code });
    const now = Date.now();
    for (const { message } of valid)
      metrics.eventDelay.observe((now - Number(message.timestamp)) / 1000);
    if (rejections.length > 0) {
      logger.warn(
        { partition: batch.partition, rejected: rejections.length, first: rejections[0]?.reason },
        'events sent to the DLQ',
      );
    }
    if (refused.length > 0) {
      logger.error(
        { partition: batch.partition, refused: refused.length, first: refused[0]?.reason },
        'ClickHouse refused valid events: sent to the DLQ',
      );
    }
  }

  const consumers = await startMembers(options.consumers ?? INGEST_CONSUMERS, (member) =>
    startBatchConsumer({
      kafka: options.kafka,
      groupId: options.groupId ?? INGEST_GROUP_ID,
      member,
      topic: topics.requests,
      logger,
      handle,
      onCommitted: (partition, lag) => metrics.lag.set({ partition: String(partition) }, lag),
      sessionTimeoutMs: options.sessionTimeoutMs,
      supervision: { metrics: options.metrics, ...options.supervision },
    }),
  );

  return {
    async stop() {
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      await writer.close();
      await producer.disconnect();
    },
  };
}

/**
 * Messages decoded per turn of the event loop. A partition's batch is thousands of messages
 * (about 100 ms of decoding for 8,000); between slices, a flush that is due starts and one whose
 * ClickHouse work has finished goes on, instead of waiting for every batch in hand to be decoded.
 */
const DECODE_SLICE = 1_000;

/** `splitValid` of `messages`, `DECODE_SLICE` at a time, yielding to the event loop before each. */
async function decodeInSlices<T>(
  messages: PartitionBatch['messages'],
  decode: (message: PartitionBatch['messages'][number]) => Decoded<T>,
): Promise<ReturnType<typeof splitValid<T>>> {
  const decoded: ReturnType<typeof splitValid<T>> = { valid: [], rejections: [] };
  for (let i = 0; i < messages.length; i += DECODE_SLICE) {
    await setImmediate();
    const slice = splitValid(messages.slice(i, i + DECODE_SLICE), (_bytes, message) =>
      decode(message),
    );
    decoded.valid.push(...slice.valid);
    decoded.rejections.push(...slice.rejections);
  }
  return decoded;
}

/**
 * Starts `count` members together, so that they join the group in one rebalance (the first
 * unnamed, then `#2`, …); if one fails to start, the others are stopped before the error is
 * thrown.
 */
async function startMembers(
  count: number,
  start: (member: string | undefined) => Promise<RunningConsumer>,
): Promise<RunningConsumer[]> {
  const outcomes = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => start(i === 0 ? undefined : `#${i + 1}`)),
  );
  const started = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const failed = outcomes.find((o) => o.status === 'rejected');
  if (failed === undefined) return started;
  await Promise.allSettled(started.map((consumer) => consumer.stop()));
  throw failed.reason;
}
