import { TOPICS, requestClassifier, DEFAULT_PROVIDERS, type EventWindow } from '@nanobill/contract';
import { describeRefusal, type ClickHouseClient } from '@nanobill/clickhouse';
import {
  createProducer,
  sendToDlq,
  splitValid,
  storageRefusals,
  startBatchConsumer,
  type Kafka,
  type PartitionBatch,
  type Supervision,
} from '@nanobill/kafka';
import type { Logger, Registry } from '@nanobill/observability';
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
  /** Where a consumer being restarted is reported (the process's `/readyz`), restart delays. */
  supervision?: Supervision;
}

export interface IngestService {
  stop(): Promise<void>;
}

export const INGEST_GROUP_ID = 'nanobill-ingest';

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
    const { valid, rejections } = splitValid(batch.messages, (_bytes, message) =>
      classify(message),
    );
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

  const consumer = await startBatchConsumer({
    kafka: options.kafka,
    groupId: options.groupId ?? INGEST_GROUP_ID,
    topic: topics.requests,
    logger,
    handle,
    onCommitted: (partition, lag) => metrics.lag.set({ partition: String(partition) }, lag),
    sessionTimeoutMs: options.sessionTimeoutMs,
    supervision: { metrics: options.metrics, ...options.supervision },
  });

  return {
    async stop() {
      await consumer.stop();
      await writer.close();
      await producer.disconnect();
    },
  };
}
